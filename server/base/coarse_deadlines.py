"""Deadlines for many short waits, at about one event-loop timer per second in all.

`asyncio.timeout` arms a timer per wait and cancels it after: on the per-fix HTTP routes,
thousands a second, each costing more than the rest of the wait's bookkeeping. Most of
those waits end long before a deadline of seconds, so here deadlines are rounded up to the
next `grain_s` and share one timer per grain: registering is a set insertion, finishing
early a set removal. A deadline fires up to `grain_s` late, fine for deadlines of seconds.
"""

from __future__ import annotations

import asyncio
import math
from typing import Protocol


class Expiring(Protocol):
    def expire(self) -> None:
        """Called once the deadline passed while still registered."""


class CoarseDeadlines:
    def __init__(self, grain_s: float = 1.0) -> None:
        self._grain_s = grain_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._buckets: dict[int, set[Expiring]] = {}

    def add(self, waiter: Expiring, timeout_s: float) -> int:
        """Expire `waiter` at `timeout_s` from now (or up to a grain later) unless it is
        discarded first; returns the key to discard it with."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # another loop (tests run several): its own timers
            self._loop, self._buckets = loop, {}
        key = math.ceil((loop.time() + timeout_s) / self._grain_s)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = set()
            loop.call_at(key * self._grain_s, self._fire, key, bucket)
        bucket.add(waiter)
        return key

    def discard(self, waiter: Expiring, key: int) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.discard(waiter)

    def pending(self) -> int:
        return sum(len(b) for b in self._buckets.values())

    def _fire(self, key: int, bucket: set[Expiring]) -> None:
        if self._buckets.get(key) is bucket:
            del self._buckets[key]
        for waiter in list(bucket):
            waiter.expire()
        bucket.clear()
