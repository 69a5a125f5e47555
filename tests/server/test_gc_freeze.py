"""The collector policy (server/base/gc_freeze.py): frozen objects are out of the collector's sight
until a thaw, which frees the cycles among them; the job freezes on schedule and leaves
the collector as it found it when stopped."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import weakref

from server.base import gc_freeze
from server.base.metrics import Metrics
from server.base.settings import Settings
from tests.server.waiting import eventually

SETTINGS = Settings.from_env({}, database_url="postgresql://unused")


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector frees it


def thaw_count(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value("tracker_gc_thaw_seconds_count")
    return 0.0 if value is None else value


def frozen_by(metrics: Metrics, count: int, thaws: float) -> bool:
    """At least `count` objects frozen, or a thaw since `thaws` (it freezes what lives)."""
    return gc.get_freeze_count() >= count or thaw_count(metrics) > thaws


def test_a_cycle_frozen_then_dropped_waits_for_the_thaw() -> None:
    metrics = Metrics()
    node = Node()
    ref = weakref.ref(node)
    try:
        gc_freeze.freeze()
        del node
        gc.collect()  # a full pass does not see frozen objects
        assert ref() is not None
        assert gc_freeze.thaw(metrics) >= 1
        assert ref() is None
        assert thaw_count(metrics) == 1
    finally:
        gc.unfreeze()


async def test_the_job_freezes_on_schedule_thaws_and_unfreezes_when_stopped() -> None:
    metrics = Metrics()
    fast = dataclasses.replace(SETTINGS, gc_freeze_interval_s=0.01, gc_thaw_interval_s=0.05)
    job = asyncio.create_task(gc_freeze.run_forever(fast, metrics))
    try:
        await eventually(lambda: gc.get_freeze_count() > 0, what="objects frozen")
        await eventually(lambda: thaw_count(metrics) >= 2, what="two thaws")
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
    assert gc.get_freeze_count() == 0


async def test_a_thaw_comes_early_once_frozen_garbage_piles_up() -> None:
    metrics = Metrics()
    hourly = dataclasses.replace(
        SETTINGS, gc_freeze_interval_s=0.01, gc_thaw_interval_s=3600, gc_thaw_growth=0.5
    )
    job = asyncio.create_task(gc_freeze.run_forever(hourly, metrics))
    try:
        await eventually(lambda: gc.get_freeze_count() > 0, what="objects frozen")
        first: weakref.ref[Node] | None = None
        # A bound, not a timing: late in the whole suite the heap (and each batch, a tenth of
        # it) is millions of objects, and a thaw collects them all.
        async with asyncio.timeout(120):
            while first is None or first() is not None:
                # A leak: cycles frozen while alive, then dropped, a tenth of the heap at a time.
                frozen, thaws = gc.get_freeze_count(), thaw_count(metrics)
                batch = [Node() for _ in range(frozen // 10)]
                first = first or weakref.ref(batch[0])
                frozen_or_thawed = functools.partial(frozen_by, metrics, frozen + len(batch), thaws)
                await eventually(frozen_or_thawed, what="a batch frozen")
                del batch
        assert thaw_count(metrics) >= 1  # early: the scheduled one is an hour away
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)


def test_growth_is_measured_from_the_last_thaw() -> None:
    assert not gc_freeze.grown(150, 100, 0.5)
    assert gc_freeze.grown(151, 100, 0.5)
    assert not gc_freeze.grown(10**9, 100, 0.0)  # 0: only on schedule


async def test_an_interval_of_zero_freezes_nothing() -> None:
    off = dataclasses.replace(SETTINGS, gc_freeze_interval_s=0.0)
    await asyncio.wait_for(gc_freeze.run_forever(off, Metrics()), 1.0)
    assert gc.get_freeze_count() == 0
