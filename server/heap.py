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
becomes garbage waits for the next thaw. Our own sockets break theirs when they close
(server/direct.py), so little waits; every `gc_thaw_interval_s` everything is unfrozen,
collected once (one pause of the old kind, logged and in /metrics) and frozen again.
Measured at 5,000 couriers and 5,000 customers: ~0.9 M tracked objects, a thaw takes
0.2 to 0.7 s and, at steady state, finds next to nothing to free; hence once an hour.
Keeping what lives per courier in tuples of numbers rather than lists (geo/line.py,
geo/expected.py) keeps that count down: such tuples drop out of the collector's sight.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

from server.metrics import Metrics
from server.settings import Settings

log = logging.getLogger("tracker.heap")


def freeze() -> None:
    """Collect the young generations, then freeze what survived."""
    gc.collect(1)
    gc.freeze()


def thaw(metrics: Metrics) -> int:
    """Unfreeze, collect everything once, freeze again; returns the objects collected."""
    started = time.perf_counter()
    gc.unfreeze()
    collected = gc.collect()
    gc.freeze()
    pause_s = time.perf_counter() - started
    metrics.gc_thaw_seconds.observe(pause_s)
    log.info("full garbage collection: %d objects freed in %.0f ms", collected, pause_s * 1000)
    return collected


async def run_forever(settings: Settings, metrics: Metrics) -> None:
    """Freeze now (start-up made most of what lives for good), then on schedule."""
    if settings.gc_freeze_interval_s <= 0:
        return
    freeze()
    next_thaw_m = time.monotonic() + settings.gc_thaw_interval_s
    try:
        while True:
            await asyncio.sleep(settings.gc_freeze_interval_s)
            if time.monotonic() >= next_thaw_m:
                thaw(metrics)
                next_thaw_m = time.monotonic() + settings.gc_thaw_interval_s
            else:
                freeze()
    finally:
        gc.unfreeze()  # an app stopped in-process (tests) leaves the collector as it was
