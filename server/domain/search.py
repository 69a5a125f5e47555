"""Customer-service search (`GET /api/orders?q=`): what an agent typed, as the patterns
server/store/order_lists.py matches orders with. Pure.

An agent types what the customer reads out: part of a name or an email, a reference, a
tracking code as printed (with dashes, maybe a typed O for a 0), a phone number with
spaces. Each column is matched in the form it is stored in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.domain.codes import clean

MIN_CHARS = 3  # trigrams: anything shorter cannot use the index (a scan of every order)
MAX_CHARS = 200
_PHONE_LIKE = re.compile(r"^[+\d\s\-().]+$")


@dataclass(frozen=True, slots=True)
class Search:
    """ILIKE patterns (wildcards in the text escaped); None: that column is not searched."""

    text: str  # reference, customer name, email, phone as typed
    code: str | None  # the tracking code, normalised as stored
    phone: str | None  # digits only, when the text could be part of a phone number


def like_escaped(text: str) -> str:
    r"""`text` as an ILIKE pattern matching itself only.

    >>> like_escaped("50%_off\\")
    '50\\%\\_off\\\\'
    """
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_of(q: str) -> Search:
    """The patterns for `q`; ValueError when it is too short or too long to search by.

    >>> search_of("7kq2-m9x")
    Search(text='%7kq2-m9x%', code='%7KQ2M9X%', phone=None)
    >>> search_of("912 345")
    Search(text='%912 345%', code='%912345%', phone='%912345%')
    >>> search_of("a%")
    Traceback (most recent call last):
    ...
    ValueError: q must be 3 to 200 characters (after trimming spaces)
    """
    q = q.strip()
    if not MIN_CHARS <= len(q) <= MAX_CHARS:
        raise ValueError(f"q must be {MIN_CHARS} to {MAX_CHARS} characters (after trimming spaces)")
    code = clean(q)
    digits = re.sub(r"\D", "", q)
    phone = digits if _PHONE_LIKE.match(q) and len(digits) >= MIN_CHARS else None
    return Search(
        f"%{like_escaped(q)}%",
        f"%{code}%" if len(code) >= MIN_CHARS and code.isalnum() else None,
        None if phone is None else f"%{phone}%",
    )
