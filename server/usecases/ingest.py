"""The per-fix pipeline, in order: plausibility (per-driver state), live fan-out of the
newest position, then the durable writer (which acks after commit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from geo.model import Fix
from geo.plausibility import DriverFilter, Limits
from server.base.dbguard import bounded_connection
from server.base.metrics import Metrics
from server.base.settings import Settings
from server.live.state import Live
from server.store import queries
from server.store.queries import Driver
from server.store.writer import BatchWriter, StoreSink, WriteItem
from server.wire.courier import Rejected

log = logging.getLogger("tracker.pipeline")


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_age_s=settings.max_fix_age_s,
        max_future_s=settings.max_fix_future_s,
        max_accuracy_m=settings.max_accuracy_m,
        max_speed_mps=settings.max_speed_mps,
        teleport_min_jump_m=settings.teleport_min_jump_m,
        reject_null_island=settings.reject_null_island,
    )


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        writer: BatchWriter,
        live: Live,
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._limits = limits_from(settings)
        self._db_timeout_s = settings.db_request_timeout_s
        self._pool = pool
        self._writer = writer
        self._live = live
        self._metrics = metrics
        self._clock = clock
        self._filters: dict[int, DriverFilter] = {}

    async def _filter(self, driver_id: int) -> DriverFilter:
        driver_filter = self._filters.get(driver_id)
        if driver_filter is None:
            latest: Fix | None = None
            try:
                async with bounded_connection(self._pool, self._db_timeout_s) as conn:
                    latest = await queries.latest_fix(conn, driver_id)
            except Exception as exc:  # an outage must not stop ingest; judge without history
                log.warning("latest position of driver %d unavailable: %r", driver_id, exc)
            # Another task may have filled it while we waited on the database.
            driver_filter = self._filters.setdefault(driver_id, DriverFilter(self._limits, latest))
        return driver_filter

    def ready_now(self, driver_id: int) -> bool:
        """Whether `ingest_now` can take this driver's fixes: its plausibility state is
        loaded and the writer's queue has room."""
        return driver_id in self._filters and self._writer.has_room

    async def ingest(
        self,
        driver: Driver,
        fixes: Sequence[tuple[int, Fix]],
        sink: StoreSink,
        attributes: Mapping[int, dict[str, Any]] | None = None,
    ) -> list[Rejected]:
        """Validate and queue fixes for storage; the sink hears when they are stored.

        Returns the rejections. Waits (backpressure) while the writer's queue is full.
        `attributes` (by seq) are protocol extras kept with the stored fix.
        """
        driver_filter = await self._filter(driver.id)
        rejected, items = self._check(driver, driver_filter, fixes, sink, attributes)
        if items:
            await self._writer.put(items)
        return rejected

    def ingest_now(
        self, driver: Driver, fixes: Sequence[tuple[int, Fix]], sink: StoreSink
    ) -> list[Rejected]:
        """`ingest` without waiting, for callers that checked `ready_now`."""
        rejected, items = self._check(driver, self._filters[driver.id], fixes, sink, None)
        if items:
            self._writer.put_nowait(items)
        return rejected

    def _check(
        self,
        driver: Driver,
        driver_filter: DriverFilter,
        fixes: Sequence[tuple[int, Fix]],
        sink: StoreSink,
        attributes: Mapping[int, dict[str, Any]] | None,
    ) -> tuple[list[Rejected], list[WriteItem]]:
        self._metrics.fixes_received.inc(len(fixes))
        received_at = self._clock()
        driver_id = driver.id
        latest_before = driver_filter.latest
        rejected: list[Rejected] = []
        items: list[WriteItem] = []
        for seq, fix in fixes:
            rejection = driver_filter.check(fix, received_at)
            if rejection is not None:
                self._metrics.fixes_rejected.labels(rejection.rule).inc()
                rejected.append(Rejected(seq, str(rejection)))
                continue
            extras = attributes.get(seq) if attributes else None
            items.append((queries.position_record(driver_id, fix, received_at, extras), sink, seq))
        newest = driver_filter.latest
        if newest is not None and newest is not latest_before:
            self._live.on_fix(driver, newest)  # once per frame, however long the backlog
        return rejected, items
