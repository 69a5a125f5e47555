"""Waiting, in an HTTP request, until the fixes it carried are committed."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from geo.model import Fix
from server.store.queries import Driver
from server.usecases.ingest import Pipeline
from server.wire import courier as wire

# How long a request waits for its fixes to be committed before answering 503.
STORE_WAIT_S = 30.0


class StoredWaiter:
    """A StoreSink that completes a future once every queued fix is accounted for."""

    def __init__(self) -> None:
        self.acked: list[int] = []
        self.failed_fixes: list[wire.Rejected] = []
        self._remaining = 0
        self._expecting = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

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
) -> StoreOutcome:
    """Validate and queue the fixes, then wait until each is committed or refused."""
    waiter = StoredWaiter()
    rejected: list[wire.Rejected] = []
    try:
        async with asyncio.timeout(timeout_s):
            rejected = await pipeline.ingest(driver, fixes, waiter, attributes)
            waiter.expect(len(fixes) - len(rejected))
            await waiter.done
    except TimeoutError:
        return StoreOutcome(sorted(waiter.acked), rejected + waiter.failed_fixes, True)
    return StoreOutcome(sorted(waiter.acked), rejected + waiter.failed_fixes, False)
