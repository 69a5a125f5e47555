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
the heap (`sys.getallocatedblocks`, Python's memory blocks in use) has grown by
`gc_thaw_growth` (a fraction) since the last one. That is read once a freeze, pool by
pool: ~1 ms at 10 million blocks, where counting the frozen objects walks every one of
them (50 ms at 4 million). The policy used to bound that count by what each freeze froze
and count only when the bound passed the limit, but each second's per-fix state is frozen
before it dies, so at 2,500 couriers the bound kept passing it: a ~70 ms stall every 10 s
(py-spy, `tracker bench`). At steady state the heap does not grow, so no thaw comes
early; while a fleet grows, thaws come at geometric steps (cost proportional to what was
added, as CPython's own rule); and cyclic garbage waiting for a thaw stays below that
fraction of the heap.
Keeping what lives per courier in tuples of numbers rather than lists (geo/line.py,
geo/expected.py) keeps the collector's work down: such tuples drop out of its sight.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time

from server.base.metrics import Metrics
from server.base.settings import Settings

log = logging.getLogger("tracker.gc")


def freeze() -> None:
    """Collect the young generations, then freeze what survived."""
    gc.collect(1)
    gc.freeze()


def freeze_built() -> None:
    """Freeze now: for the thread that builds a long run's tracker (server/live/etas.py),
    between its steps. Otherwise each of the collector's full passes while it builds walks
    everything built so far again, holding the interpreter for 10-20 ms at 1,000 stops:
    the event loop stalls that long. The young generations are collected first (well under
    a millisecond): that drops the step's garbage, and the tuples of numbers it built leave
    the collector's sight rather than staying frozen as they were."""
    freeze()


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


def grown(now: int, after_thaw: int, growth: float) -> bool:
    """Whether `now` is more than `growth` (a fraction) above `after_thaw`."""
    return growth > 0 and now > after_thaw * (1.0 + growth)


async def run_forever(settings: Settings, metrics: Metrics) -> None:
    """Freeze now (start-up made most of what lives for good), then on schedule; thaw on
    schedule, or early once the heap grew by `gc_thaw_growth`."""
    if settings.gc_freeze_interval_s <= 0:
        return
    freeze()
    after_thaw = sys.getallocatedblocks()
    next_thaw_m = time.monotonic() + settings.gc_thaw_interval_s
    try:
        while True:
            await asyncio.sleep(settings.gc_freeze_interval_s)
            freeze()
            blocks = sys.getallocatedblocks()
            why = None
            if grown(blocks, after_thaw, settings.gc_thaw_growth):
                why = f"the heap grew from {after_thaw} to {blocks} blocks"
            elif time.monotonic() < next_thaw_m:
                continue
            thaw(metrics, why or "scheduled")
            after_thaw = sys.getallocatedblocks()
            next_thaw_m = time.monotonic() + settings.gc_thaw_interval_s
    finally:
        gc.unfreeze()  # an app stopped in-process (tests) leaves the collector as it was
