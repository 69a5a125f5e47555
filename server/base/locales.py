"""Customers' languages: an order's `locale` is a BCP 47 tag (RFC 5646), checked for
well-formedness and kept as given (canonical case); messages go out in the closest
supported language, English when none is close.

>>> canonical("PT-pt")
'pt-PT'
>>> language("pt-BR"), language("de-CH-1996"), language("ja"), language(None)
('pt', 'de', 'en', 'en')
"""

from __future__ import annotations

import re

SUPPORTED = ("en", "pt", "es", "fr", "de")  # every message template is in each of these
DEFAULT = "en"
MAX_LENGTH = 35  # RFC 5646 4.4.1: what every implementation must be able to store

# RFC 5646 2.1 "langtag" (grandfathered tags aside) and a private-use tag alone.
_LANGTAG = re.compile(
    r"""^(?:
        (?P<language>[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})
        (?:-(?P<script>[a-z]{4}))?
        (?:-(?P<region>[a-z]{2}|[0-9]{3}))?
        (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*
        (?:-[a-wyz0-9](?:-[a-z0-9]{2,8})+)*
        (?:-x(?:-[a-z0-9]{1,8})+)?
      | x(?:-[a-z0-9]{1,8})+
    )$""",
    re.IGNORECASE | re.VERBOSE,
)


def canonical(tag: str) -> str:
    """The tag in canonical case (language lower, script title, region upper); raises
    ValueError, saying why, for one that is not well-formed.

    >>> canonical("zh-hant-tw")
    'zh-Hant-TW'
    >>> canonical("DE-de-u-co-phonebk")
    'de-DE-u-co-phonebk'
    >>> canonical("en_US")
    Traceback (most recent call last):
    ...
    ValueError: locale 'en_US' is not a BCP 47 language tag (like pt-PT)
    """
    if len(tag) > MAX_LENGTH:
        raise ValueError(f"locale must be at most {MAX_LENGTH} characters")
    match = _LANGTAG.match(tag)
    if match is None:
        raise ValueError(f"locale {tag!r} is not a BCP 47 language tag (like pt-PT)")
    parts = tag.lower().split("-")
    out = [parts[0]]
    extension = len(parts[0]) == 1  # from a singleton on (u-, x-), subtags stay lower case
    for part in parts[1:]:
        extension = extension or len(part) == 1
        if not extension and len(part) == 4 and part.isalpha():
            part = part.title()
        elif not extension and (
            (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit())
        ):
            part = part.upper()
        out.append(part)
    return "-".join(out)


def language(tag: str | None) -> str:
    """The supported language for `tag`: its primary language if supported, else English."""
    if not tag:
        return DEFAULT
    primary = tag.split("-", 1)[0].lower()
    return primary if primary in SUPPORTED else DEFAULT
