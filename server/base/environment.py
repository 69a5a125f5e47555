"""Reading settings' raw values from the environment, strictly: a value that is not exactly
one the setting accepts is an error naming the variable and what it accepts (a typo such as
`ture` must not quietly mean false); secrets may come from files (`<NAME>_FILE`, as Docker
and Kubernetes secrets are mounted); unknown `TRACKER_*` names are reported (a misspelt
variable is otherwise silently ignored).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")
FILE_SUFFIX = "_FILE"

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# What a number is counted in, by the end of the variable's name (for the error message).
_UNITS = {"_S": "seconds", "_MS": "milliseconds", "_DAYS": "days", "_M": "metres"}


class EnvironmentValueError(ValueError):
    """A variable's value is malformed; the message names the variable."""


def parse_bool(name: str, raw: str) -> bool:
    """
    >>> parse_bool("TRACKER_X", " Yes ")
    True
    >>> parse_bool("TRACKER_X", "ture")
    Traceback (most recent call last):
    ...
    server.base.environment.EnvironmentValueError: TRACKER_X='ture' is not a boolean: use true or false (also 1/0, yes/no, on/off)
    """  # noqa: E501
    word = raw.strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise EnvironmentValueError(
        f"{name}={raw!r} is not a boolean: use true or false (also 1/0, yes/no, on/off)"
    )


def parse_int(name: str, raw: str) -> int:
    """A whole number, nothing around it but blanks (no `10k`, no `1e3`, no `1_000`)."""
    if _INTEGER.fullmatch(raw.strip()):
        return int(raw)
    raise EnvironmentValueError(f"{name}={raw!r} is not a whole number{_unit(name)}")


def parse_float(name: str, raw: str) -> float:
    """A finite decimal number (no `nan`, `inf`, `30s`).

    >>> parse_float("TRACKER_BUS_TIMEOUT_S", "2.5")
    2.5
    >>> parse_float("TRACKER_BUS_TIMEOUT_S", "2s")
    Traceback (most recent call last):
    ...
    server.base.environment.EnvironmentValueError: TRACKER_BUS_TIMEOUT_S='2s' is not a number of seconds (write the number alone, e.g. 30)
    """  # noqa: E501
    if _DECIMAL.fullmatch(raw.strip()):
        value = float(raw)
        if math.isfinite(value):
            return value
    raise EnvironmentValueError(f"{name}={raw!r} is not a number{_unit(name)}")


def _unit(name: str) -> str:
    for suffix, unit in _UNITS.items():
        if name.endswith(suffix):
            return f" of {unit} (write the number alone, e.g. 30)"
    return ""


def read_secret(env: Mapping[str, str], name: str) -> str | None:
    """`name`'s value, or the contents of the file `name_FILE` names (its trailing newline
    dropped, as `echo … > file` adds one); None when neither is set."""
    path = env.get(name + FILE_SUFFIX, "")
    if not path:
        return env.get(name)
    if env.get(name):
        raise EnvironmentValueError(f"{name} and {name}{FILE_SUFFIX} are both set: keep one")
    try:
        value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise EnvironmentValueError(
            f"{name}{FILE_SUFFIX}={path!r}: cannot read the file ({reason})"
        ) from None
    if not value:
        raise EnvironmentValueError(f"{name}{FILE_SUFFIX}={path!r}: the file is empty")
    return value


def unknown_variables(env: Mapping[str, str], known: Collection[str]) -> Iterator[str]:
    """One warning per `TRACKER_*` variable that nothing reads, naming the likely intended
    one when a known name is close.

    >>> list(unknown_variables({"TRACKER_PROT": "1", "TRACKER_PORT": "2"}, ["TRACKER_PORT"]))
    ['TRACKER_PROT is not a known setting (did you mean TRACKER_PORT?); it is ignored']
    """
    for name in sorted(env):
        if not name.startswith("TRACKER_") or name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        yield f"{name} is not a known setting{hint}; it is ignored"
