"""GPS arrivals, recorded off the fix path: live state finds them (notices.Arrived, with
the ETAs shown before), the notifier hands them here, and a task writes each to its
attempt's facts, its ETA accuracy and the rollups, in one transaction
(server/store/insights.py, record_arrival). The queue is bounded: the fix path never
waits, and an arrival that does not fit is dropped with a warning (the attempt is then
recorded without its GPS arrival)."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from server.live.notices import Arrived
from server.store import insights as store

log = logging.getLogger("tracker.insights")

QUEUE_MAX = 10_000
RETRY_S = 1.0
ATTEMPTS = 3


class ArrivalRecorder:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._queue: asyncio.Queue[Arrived] = asyncio.Queue(QUEUE_MAX)
        self.recorded = 0  # arrivals written by this process (tests read it)

    def offer(self, arrived: Arrived) -> None:
        try:
            self._queue.put_nowait(arrived)
        except asyncio.QueueFull:
            log.warning("insights queue full; order %d's arrival not recorded", arrived.order_id)

    async def run(self) -> None:
        while True:
            arrived = await self._queue.get()
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    async with self._pool.acquire() as conn, conn.transaction():
                        await store.record_arrival(
                            conn, arrived.order_id, arrived.at, arrived.shown
                        )
                    self.recorded += 1
                    break
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning(
                        "order %d's arrival not recorded (try %d): %r",
                        arrived.order_id, attempt, exc,
                    )  # fmt: skip
                    await asyncio.sleep(RETRY_S * attempt)
