"""The order of a run's stops that takes least time, from a travel-time matrix.

Pure. Node 0 is where the run starts (the courier); nodes 1..n are the stops; `cost[i][j]`
is the time from i to j (math.inf: no path). The run is a path (no return to the start).
Up to EXACT_MAX_STOPS stops the best order is exact (Held-Karp dynamic programming);
beyond, the given order and a nearest-neighbour tour are improved by 2-opt and or-opt
moves until none helps. The result is never worse than the given order (1..n), which is
always a candidate, and a move is taken only when it is strictly better.

>>> c = [[0, 5, 1], [9, 0, 1], [9, 1, 0]]
>>> best_order(c)
[2, 1]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EXACT_MAX_STOPS = 9
UNREACHABLE_S = 1e7  # an unreachable pair counts as this long: any path beats it


def path_cost(cost: Sequence[Sequence[float]], order: Sequence[int]) -> float:
    total, here = 0.0, 0
    for stop in order:
        step = cost[here][stop]
        total += step if math.isfinite(step) else UNREACHABLE_S
        here = stop
    return total


def reachable(cost: Sequence[Sequence[float]], order: Sequence[int]) -> bool:
    """Whether every hop of `order` (from the start, 0) has a path."""
    here = 0
    for stop in order:
        if not math.isfinite(cost[here][stop]):
            return False
        here = stop
    return True


def best_order(cost: Sequence[Sequence[float]]) -> list[int]:
    n = len(cost) - 1
    given = list(range(1, n + 1))
    if n <= 2:
        return min((given, given[::-1]), key=lambda o: (path_cost(cost, o), o != given))
    if n <= EXACT_MAX_STOPS:
        exact = _held_karp(cost)
        return exact if path_cost(cost, exact) < path_cost(cost, given) else given
    best = _improve(cost, given)
    other = _improve(cost, _nearest(cost))
    return other if path_cost(cost, other) < path_cost(cost, best) else best


def _c(cost: Sequence[Sequence[float]], i: int, j: int) -> float:
    step = cost[i][j]
    return step if math.isfinite(step) else UNREACHABLE_S


def _held_karp(cost: Sequence[Sequence[float]]) -> list[int]:
    n = len(cost) - 1
    full = (1 << n) - 1
    # best[mask][j]: least time from the start through the stops in mask, ending at stop j+1
    best = [[math.inf] * n for _ in range(1 << n)]
    parent = [[-1] * n for _ in range(1 << n)]
    for j in range(n):
        best[1 << j][j] = _c(cost, 0, j + 1)
    for mask in range(1, full + 1):
        row = best[mask]
        for j in range(n):
            here = row[j]
            if here == math.inf or not mask >> j & 1:
                continue
            for k in range(n):
                if mask >> k & 1:
                    continue
                nxt = mask | 1 << k
                value = here + _c(cost, j + 1, k + 1)
                if value < best[nxt][k]:
                    best[nxt][k] = value
                    parent[nxt][k] = j
    last = min(range(n), key=lambda j: best[full][j])
    order, mask = [], full
    while last >= 0:
        order.append(last + 1)
        last, mask = parent[mask][last], mask & ~(1 << last)
    return order[::-1]


def _nearest(cost: Sequence[Sequence[float]]) -> list[int]:
    left, here, order = set(range(1, len(cost))), 0, []
    while left:
        here = min(left, key=lambda j: (_c(cost, here, j), j))
        left.remove(here)
        order.append(here)
    return order


def _improve(cost: Sequence[Sequence[float]], order: list[int]) -> list[int]:
    """2-opt (reverse a stretch) and or-opt (move one stop) until neither helps. Costs are
    asymmetric, so each candidate is priced whole (O(n) each; n is a run, tens of stops)."""
    best, best_cost = list(order), path_cost(cost, order)
    n = len(best)
    improved = True
    while improved:
        improved = False
        for i in range(n - 1):
            for j in range(i + 1, n):
                head, tail = best[:i], best[j + 1 :]
                for candidate in (
                    [*head, *best[i : j + 1][::-1], *tail],  # 2-opt: i..j reversed
                    [*head, *best[i + 1 : j + 1], best[i], *tail],  # or-opt: i after j
                    [*head, best[j], *best[i:j], *tail],  # or-opt: j before i
                ):
                    value = path_cost(cost, candidate)
                    if value < best_cost - 1e-9:
                        best, best_cost, improved = candidate, value, True
    return best
