"""The order lifecycle, checked against an independent table of every legal move."""

from __future__ import annotations

import itertools

import pytest

from server.domain.lifecycle import IllegalTransition, Status, parse_status, transition

LEGAL = {
    ("confirmed", "processing"),
    ("confirmed", "packed"),
    ("confirmed", "shipped"),
    ("confirmed", "out_for_delivery"),
    ("confirmed", "cancelled"),
    ("processing", "packed"),
    ("processing", "shipped"),
    ("processing", "out_for_delivery"),
    ("processing", "cancelled"),
    ("packed", "shipped"),
    ("packed", "out_for_delivery"),
    ("packed", "cancelled"),
    ("shipped", "out_for_delivery"),
    ("shipped", "failed"),
    ("shipped", "returned"),
    ("out_for_delivery", "arrived"),
    ("out_for_delivery", "delivered"),
    ("arrived", "delivered"),
    ("arrived", "failed"),
    ("out_for_delivery", "failed"),
    ("failed", "out_for_delivery"),
    ("failed", "shipped"),  # a new attempt for dispatch to plan (the customer's reattempt)
    ("failed", "returned"),
    ("delivered", "returned"),
}
PAIRS = list(itertools.product(Status, Status))


@pytest.mark.parametrize(
    ("current", "wanted"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS]
)
def test_every_transition(current: Status, wanted: Status) -> None:
    if (current.value, wanted.value) in LEGAL:
        assert transition(current, wanted) is wanted
    else:
        with pytest.raises(IllegalTransition) as caught:
            transition(current, wanted)
        allowed = sorted(b for a, b in LEGAL if a == current.value)
        assert sorted(caught.value.allowed) == allowed
        assert f"from {current.value} to {wanted.value}" in str(caught.value)


def test_final_statuses_say_so() -> None:
    with pytest.raises(IllegalTransition, match="none \\(final status\\)"):
        transition(Status.CANCELLED, Status.CONFIRMED)


def test_unknown_status_lists_the_real_ones() -> None:
    with pytest.raises(ValueError, match="out_for_delivery"):
        parse_status("in_transit")
