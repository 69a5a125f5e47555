"""Tracking codes: 80 random bits as 16 Crockford base32 characters, shown in groups of four.

Crockford's alphabet has no I, L, O or U, so codes read aloud and typed survive; reading
is forgiving of case, spaces and dashes, and of O/I/L typed for 0/1. Codes come from the
OS's CSPRNG and are never derived from order ids.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 16 x 5 bits = 80 random bits
GROUP = 4
_TYPO = str.maketrans({"O": "0", "I": "1", "L": "1"})
_VALID = frozenset(ALPHABET)


def new_code() -> str:
    """A fresh normalised code (no dashes)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def display(code: str) -> str:
    """
    >>> display("7KQ2M9XD3HVAPR4T")
    '7KQ2-M9XD-3HVA-PR4T'
    """
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def clean(text: str) -> str:
    """What a customer typed, upper-cased, without separators, typos mended (whole code
    or part of one).

    >>> clean("7kq2-m9o")
    '7KQ2M90'
    """
    return "".join(ch for ch in text.upper() if ch not in " -_\t").translate(_TYPO)


def normalise(text: str) -> str | None:
    """The canonical form of what a customer typed, or None if it cannot be a code.

    >>> normalise(" 7kq2-m9xd 3hva-pr4t ")
    '7KQ2M9XD3HVAPR4T'
    >>> normalise("7KQ2-M9XD-3HVA-PR4") is None
    True
    """
    cleaned = clean(text)
    if len(cleaned) != CODE_LENGTH or not set(cleaned) <= _VALID:
        return None
    return cleaned
