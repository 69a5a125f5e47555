"""Tracking codes: random, readable, forgiving to type."""

from __future__ import annotations

import math
from collections import Counter

from server.domain import codes


def test_format_and_entropy() -> None:
    drawn = [codes.new_code() for _ in range(20_000)]
    assert len(set(drawn)) == len(drawn)
    assert all(len(c) == 16 and set(c) <= set(codes.ALPHABET) for c in drawn)
    assert len(codes.ALPHABET) == 32 and not set("ILOU") & set(codes.ALPHABET)
    assert codes.CODE_LENGTH * math.log2(len(codes.ALPHABET)) >= 64
    # Every symbol at every position about equally often: no structure, no counter inside.
    for position in (0, 7, 15):
        counts = Counter(c[position] for c in drawn)
        assert len(counts) == 32
        assert max(counts.values()) < 2 * min(counts.values())


def test_display_and_forgiving_input() -> None:
    code = codes.new_code()
    shown = codes.display(code)
    assert shown.count("-") == 3 and shown.replace("-", "") == code
    assert codes.normalise(shown.lower()) == code
    assert codes.normalise(" ".join(shown.split("-"))) == code
    assert codes.normalise("0O1I-L000-0000-0000") == "0011100000000000"
    assert codes.normalise(code[:-1]) is None
    assert codes.normalise(code + "0") is None
    assert codes.normalise("U" * 16) is None
    assert codes.normalise("") is None
