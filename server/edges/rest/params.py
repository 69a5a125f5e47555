"""Query parameters read strictly: what is not a plain number in range is the client's
error, named, never a database error (PostgreSQL's bigint ends at 2^63 - 1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from starlette.datastructures import QueryParams

from server.wire.jsonin import has_control_char

BIGINT_MAX = 2**63 - 1


@overload
def query_int(
    query: QueryParams, name: str, default: int, low: int = 0, high: int = BIGINT_MAX
) -> int: ...
@overload
def query_int(
    query: QueryParams, name: str, default: None, low: int = 0, high: int = BIGINT_MAX
) -> int | None: ...
def query_int(
    query: QueryParams, name: str, default: int | None, low: int = 0, high: int = BIGINT_MAX
) -> int | None:
    """`?name=` as an int in low..high; `default` when absent or empty. Raises ValueError
    naming the parameter.

    >>> query_int(QueryParams("after=000123"), "after", 0)
    123
    >>> query_int(QueryParams("after=" + "9" * 30), "after", 0)
    Traceback (most recent call last):
    ...
    ValueError: after must be a whole number in 0..9223372036854775807
    """
    raw = query.get(name, "")
    if not raw:
        return default
    # isdigit() also takes other scripts' digits and superscripts; int() would not.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not low <= int(raw) <= high:
        raise ValueError(f"{name} must be a whole number in {low}..{high}")
    return int(raw)


def query_time(query: QueryParams, name: str) -> datetime | None:
    """`?name=` as an ISO 8601 instant with its zone (`Z` or an offset; in a URL the `+` of
    an offset must be sent as `%2B`), in UTC; None when absent or empty. Raises ValueError
    naming the parameter.

    >>> query_time(QueryParams("from=2026-11-30T08:00:00%2B01:00"), "from")
    datetime.datetime(2026, 11, 30, 7, 0, tzinfo=datetime.timezone.utc)
    """
    raw = query.get(name, "")
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{name} must be an ISO 8601 time, e.g. 2026-11-30T08:00:00Z") from None
    if at.tzinfo is None:
        raise ValueError(f"{name} must give its time zone (Z or an offset such as +01:00)")
    return at.astimezone(UTC)


def check_known(query: QueryParams, known: frozenset[str]) -> None:
    """Raise ValueError naming the parameters not in `known`: a misspelt filter must not
    quietly answer every order.

    >>> check_known(QueryParams("limit=5&emial=a@b&x=1"), frozenset({"limit"}))
    Traceback (most recent call last):
    ...
    ValueError: unknown query parameters: emial, x (known: limit)
    """
    unknown = sorted({name for name in query if name not in known})
    if unknown:
        shown = ", ".join(name[:40] for name in unknown[:10])
        raise ValueError(f"unknown query parameters: {shown} (known: {', '.join(sorted(known))})")


def query_text(query: QueryParams, name: str, max_chars: int = 200) -> str | None:
    """`?name=` as text of at most `max_chars`, without control characters; None when
    absent or empty. Raises ValueError naming the parameter.

    >>> query_text(QueryParams("q=%00"), "q")
    Traceback (most recent call last):
    ...
    ValueError: q holds a control character
    """
    raw = query.get(name, "")
    if not raw:
        return None
    if len(raw) > max_chars:
        raise ValueError(f"{name} must be at most {max_chars} characters")
    if has_control_char(raw):
        raise ValueError(f"{name} holds a control character")
    return raw
