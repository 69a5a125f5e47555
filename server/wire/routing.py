"""`POST /api/drivers/{id}/run/optimize`'s answer: a proposed stop order and what it saves."""

from __future__ import annotations

import msgspec


class RunTotals(msgspec.Struct):
    """A run's driving, stop to stop on the road network: travel time, and the road
    distance (each hop's shortest)."""

    time_s: int
    distance_m: int


class RunProposal(msgspec.Struct):
    """`current`: the run's open stops (order ids) in today's order; `proposed`: the order
    that takes least time (never more than today's). `start`: where the run is driven from,
    `courier` (its newest position) or `first_stop` (no position known: the first stop stays
    first). Apply it with the reorder action; nothing changes until then."""

    driver_id: int
    current: list[int]
    proposed: list[int]
    before: RunTotals
    after: RunTotals
    changed: bool
    start: str
