"""Scheduled housekeeping: partitions ahead of time, history past retention dropped.

Once per cluster: only the process holding the scheduled-jobs lock (leader.py) runs the
periodic rounds. The round at start-up runs everywhere (partition DDL is serialised by its
own advisory lock and idempotent), so no process ever starts without today's partition.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime

import asyncpg

from server.base.settings import Settings
from server.store import partitions
from server.usecases.leader import Leadership

log = logging.getLogger("tracker.maintenance")


async def maintain_once(
    pool: asyncpg.Pool, settings: Settings, today: date | None = None
) -> tuple[list[date], list[date]]:
    today = today or datetime.now(UTC).date()
    async with pool.acquire() as conn:
        created, dropped = await partitions.maintain(
            conn,
            today,
            ahead_days=settings.partitions_ahead_days,
            retention_days=settings.retention_days,
        )
    if created or dropped:
        log.info(
            "partitions: created %s, dropped %s",
            [d.isoformat() for d in created],
            [d.isoformat() for d in dropped],
        )
    return created, dropped


async def run_forever(pool: asyncpg.Pool, settings: Settings, leader: Leadership) -> None:
    while True:
        try:
            if await leader.holds():
                await maintain_once(pool, settings)
        except Exception as exc:  # retried next round; the writer creates partitions on demand
            log.warning("partition maintenance failed: %r", exc)
        await asyncio.sleep(settings.maintenance_interval_s)
