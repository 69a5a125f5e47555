"""Keeping the cyclic garbage collector's pauses short.

A full collection walks every tracked object. With thousands of sockets and trackers that
is hundreds of thousands of objects, and 100 to 500 ms in which nothing is served (measured
under `tracker bench`). CPython starts one whenever the objects promoted to the oldest
generation reach a quarter of it, and promotions are constant here: each driver's newest
state (its fix, position, ETAs) lives about a second, long enough to be promoted, so full
passes came every few seconds, each longer as the fleet grew.

So everything alive is frozen (`gc.freeze`: out of the collector's sight, still freed by
reference counting) every `gc_freeze_interval_s`, right after a young collection has taken
what died young. The oldest generation then holds at most an interval's promotions and a
full pass stays short. What freezing costs: a reference cycle among frozen objects that
becomes garbage waits for the next thaw. Every `gc_thaw_interval_s` everything is
unfrozen, collected once (one pause of the old kind, logged and in /metrics) and frozen
again. Measured at 5,000 couriers and 5,000 customers: ~0.9 M tracked objects, a thaw takes
0.2 to 0.7 s and, at steady state, finds next to nothing to free; hence once an hour.

Connections are what comes and goes, so a connection must leave no cycle when it closes:
each one lives long enough to be frozen, and a cycle per closed connection was 6 to 7 MB
per 1,500 until the thaw, for rejected ones too. server/edges/net/http_protocol.py breaks
the HTTP parser's cycle when a connection is upgraded; server/edges/net/ws_direct.py the
WebSocket parser's and
the handler's callbacks when a socket closes (tests/server/test_connection_cycles.py keeps
it so; `tracker bench --churn` measures the server's memory over connect/close cycles).

In case something else does leak, the policy limits itself: a thaw also comes early once
the frozen objects have grown by `gc_thaw_growth` (a fraction) since the last one. Counting
them walks every frozen object (7 to 22 ms on the loop at ~100,000), so each freeze adds up
what it froze instead, an upper bound, and they are counted only once that bound passes the
limit, at most every COUNT_EVERY_FREEZES freezes. Frozen objects that die by reference
counting leave the frozen count, so it grows only with what lives on or leaks: at steady
state there is no extra thaw; while a fleet grows, thaws come at geometric steps (cost
proportional to what was added, as CPython's own rule); and cyclic garbage waiting for a
thaw stays below that fraction of the heap.
Keeping what lives per courier in tuples of numbers rather than lists (geo/line.py,
geo/expected.py) keeps that count down: such tuples drop out of the collector's sight.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

from server.base.metrics import Metrics
from server.base.settings import Settings

log = logging.getLogger("tracker.gc")

# The frozen objects are counted at most every this many freezes (10 s at the default
# interval): a thaw for growth comes at most that much later.
COUNT_EVERY_FREEZES = 10


def freeze() -> int:
    """Collect the young generations, then freeze what survived; returns how many objects
    that froze (and the build thread froze since the last call: see `freeze_built`)."""
    gc.collect(1)
    return _freeze_counted() + _take_built()


def freeze_built() -> None:
    """Freeze now: for the thread that builds a long run's tracker (server/live/etas.py),
    between its steps. Otherwise each of the collector's full passes while it builds walks
    everything built so far again, holding the interpreter for 10-20 ms at 1,000 stops:
    the event loop stalls that long. The young generations are collected first (well under
    a millisecond): that drops the step's garbage, and the tuples of numbers it built leave
    the collector's sight rather than staying frozen (and counted) as they were."""
    gc.collect(1)
    _built_frozen.append(_freeze_counted())


# How many objects the build thread froze, a number per step, until `freeze` takes them
# (list.append and slice deletion are atomic: nothing is lost between the two threads).
_built_frozen: list[int] = []


def _take_built() -> int:
    n = len(_built_frozen)
    taken = sum(_built_frozen[:n])
    del _built_frozen[:n]
    return taken


def _freeze_counted() -> int:
    """Freeze everything not frozen yet; returns how many objects that was. Counting them
    walks only the unfrozen ones (what lived since the last freeze), where counting the
    frozen ones (gc.get_freeze_count) walks every one of them: 7 to 16 ms at ~100,000
    frozen objects, on the event loop (measured under `tracker bench --run-changes`)."""
    n = len(gc.get_objects())
    gc.freeze()
    return n


def thaw(metrics: Metrics, why: str = "scheduled") -> int:
    """Unfreeze, collect everything once, freeze again; returns the objects collected."""
    started = time.perf_counter()
    gc.unfreeze()
    collected = gc.collect()
    gc.freeze()
    pause_s = time.perf_counter() - started
    metrics.gc_thaw_seconds.observe(pause_s)
    log.info(
        "full garbage collection (%s): %d objects freed in %.0f ms",
        why,
        collected,
        pause_s * 1000,
    )
    return collected


def grown(frozen: int, after_thaw: int, growth: float) -> bool:
    """Whether `frozen` objects are more than `growth` (a fraction) above `after_thaw`."""
    return growth > 0 and frozen > after_thaw * (1.0 + growth)


async def run_forever(settings: Settings, metrics: Metrics) -> None:
    """Freeze now (start-up made most of what lives for good), then on schedule; thaw on
    schedule, or early once the frozen objects grew by `gc_thaw_growth`."""
    if settings.gc_freeze_interval_s <= 0:
        return
    freeze()
    after_thaw = at_most = gc.get_freeze_count()
    next_thaw_m = time.monotonic() + settings.gc_thaw_interval_s
    uncounted = 0  # freezes since the frozen objects were last counted
    try:
        while True:
            await asyncio.sleep(settings.gc_freeze_interval_s)
            # What was frozen since the last count: with it, an upper bound on the frozen
            # objects (those that died since are in it too). Counting them walks every one
            # (7 to 22 ms at ~100,000, measured under `tracker bench --run-changes`): only
            # once the bound says they may have grown past the limit, and no more often
            # than every COUNT_EVERY_FREEZES (while runs are rebuilt, the bound passes it
            # every few changes).
            at_most += freeze()
            uncounted += 1
            why = None
            if (
                grown(at_most, after_thaw, settings.gc_thaw_growth)
                and uncounted >= COUNT_EVERY_FREEZES
            ):
                at_most, uncounted = gc.get_freeze_count(), 0
                if grown(at_most, after_thaw, settings.gc_thaw_growth):
                    why = f"frozen objects grew from {after_thaw} to {at_most}"
            if why is None and time.monotonic() < next_thaw_m:
                continue
            thaw(metrics, why or "scheduled")
            after_thaw = at_most = gc.get_freeze_count()
            uncounted = 0
            next_thaw_m = time.monotonic() + settings.gc_thaw_interval_s
    finally:
        gc.unfreeze()  # an app stopped in-process (tests) leaves the collector as it was
