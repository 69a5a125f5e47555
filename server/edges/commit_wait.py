"""Waiting, in an HTTP request, until the fixes it carried are committed.

The usual request (its driver's state loaded, room in the writer's queue) is queued without
waiting and its wait for the commit bounded by a shared coarse deadline
(server/base/coarse_deadlines.py: no timer of its own); one that must wait for either
is bounded by its own `asyncio.timeout`, the whole of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from geo.model import Fix
from server.base.coarse_deadlines import CoarseDeadlines
from server.store.queries import Driver
from server.usecases.ingest import Pipeline
from server.wire import courier as wire

# How long a request waits for its fixes to be committed before answering 503.
STORE_WAIT_S = 30.0
_deadlines = CoarseDeadlines(grain_s=1.0)  # STORE_WAIT_S, up to a second more


class StoredWaiter:
    """A StoreSink that completes a future once every queued fix is accounted for."""

    __slots__ = ("_expecting", "_remaining", "acked", "done", "expired", "failed_fixes")

    def __init__(self) -> None:
        self.acked: list[int] = []
        self.failed_fixes: list[wire.Rejected] = []
        self._remaining = 0
        self._expecting = False
        self.expired = False  # the deadline passed first
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def expire(self) -> None:
        if not self.done.done():  # all accounted for already: not late, whatever the clock
            self.expired = True
            self.done.set_result(None)

    def expect(self, count: int) -> None:
        self._remaining += count
        self._expecting = True
        self._check()

    def stored(self, seqs: list[int]) -> None:
        self.acked.extend(seqs)
        self._remaining -= len(seqs)
        self._check()

    def failed(self, seq: int, reason: str) -> None:
        self.failed_fixes.append(wire.Rejected(seq, reason))
        self._remaining -= 1
        self._check()

    def _check(self) -> None:
        if self._expecting and self._remaining <= 0 and not self.done.done():
            self.done.set_result(None)


@dataclass(slots=True)
class StoreOutcome:
    acked: list[int]  # seqs committed (new or already stored)
    rejected: list[wire.Rejected]  # failed validation or refused by the database
    timed_out: bool  # storage did not answer in time: the rest may still be stored


async def store_and_wait(
    pipeline: Pipeline,
    driver: Driver,
    fixes: Sequence[tuple[int, Fix]],
    attributes: Mapping[int, dict[str, Any]] | None = None,
    timeout_s: float = STORE_WAIT_S,
    app: str = "http",
) -> StoreOutcome:
    """Validate and queue the fixes (sent by `app`), then wait until each is committed or
    refused."""
    waiter = StoredWaiter()
    rejected: list[wire.Rejected] | None = pipeline.ingest_now(
        driver, fixes, waiter, attributes, app
    )
    if rejected is not None:  # queued: no waiting but for the commit
        waiter.expect(len(fixes) - len(rejected))
        if not waiter.done.done():
            key = _deadlines.add(waiter, timeout_s)
            try:
                await waiter.done
            finally:
                _deadlines.discard(waiter, key)
        failed = rejected + waiter.failed_fixes
        return StoreOutcome(sorted(waiter.acked), failed, waiter.expired)
    rejected = []
    try:
        async with asyncio.timeout(timeout_s):
            rejected = await pipeline.ingest(driver, fixes, waiter, attributes, app)
            waiter.expect(len(fixes) - len(rejected))
            await waiter.done
    except TimeoutError:
        return StoreOutcome(sorted(waiter.acked), rejected + waiter.failed_fixes, True)
    return StoreOutcome(sorted(waiter.acked), rejected + waiter.failed_fixes, False)
