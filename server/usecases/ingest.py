"""The ingest pipeline, Traccar-style: the stages a fix goes through, in order.

  1. decode          at the edge, once per protocol (edges/sockets/driver.py, edges/rest/
                     ingest.py, edges/phone_apps/): one canonical Fix per seq
  2. plausibility    each fix against its driver's filter (geo/plausibility.py);
                     a rejection names its rule and goes back; nothing of it is stored
  3. per-driver state  the driver's newest fix: a late one is stored, and stops here
  4. live state      fleet position, tracker and ETAs, clearance (Live.on_fix)
  5. publish         positions and ETAs to customers, alerts to dispatchers (Live.publish;
                     the hub never waits on a slow socket)
  6. notifier        arrivals, fresh ETAs (delays), positions for webhooks: a bounded queue
  7. durable writer  queued for a batched COPY (store/writer.py; waits while full)
  8. ack             the writer tells the sink once committed: the device's ack

`_stages` runs 2-6 and returns what 7 queues; stages 4-6 run once per frame, for its
newest fix, however long the backlog. `ingest` waits for the driver's state and the
writer's room; `ingest_now` is the same without waiting, when both are there already.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from time import perf_counter
from typing import Any

import asyncpg

from geo.model import Fix
from geo.plausibility import DriverFilter, Limits
from server.base import stage_times
from server.base.batched_reads import BatchedReads, pooled
from server.base.metrics import Metrics
from server.base.settings import Settings
from server.live.state import Live
from server.store import queries
from server.store.queries import Driver
from server.store.writer import BatchWriter, StoreSink, WriteItem
from server.usecases.notify.notifier import Notifier
from server.usecases.routing import Routing
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
        notifier: Notifier,
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        routing: Routing | None = None,
    ) -> None:
        self._routing = routing  # legs on the road network: first position, off route
        self._limits = limits_from(settings)
        self._writer = writer
        self._live = live
        self._notifier = notifier
        self._metrics = metrics
        self._clock = clock
        self._filters: dict[int, DriverFilter] = {}  # per driver: bounded by the drivers table
        self._latest: BatchedReads[int, Fix | None] = BatchedReads(
            pooled(pool, settings.db_request_timeout_s), queries.latest_fixes, None
        )

    async def _filter(self, driver_id: int) -> DriverFilter:
        driver_filter = self._filters.get(driver_id)
        if driver_filter is None:
            latest: Fix | None = None
            try:  # read with every other driver's whose first fix came meanwhile
                latest = await self._latest.of(driver_id)
            except Exception as exc:  # an outage must not stop ingest; judge without history
                log.warning("latest position of driver %d unavailable: %r", driver_id, exc)
            # Another task may have filled it while we waited on the database.
            driver_filter = self._filters.setdefault(driver_id, DriverFilter(self._limits, latest))
        return driver_filter

    async def ingest(
        self,
        driver: Driver,
        fixes: Sequence[tuple[int, Fix]],
        sink: StoreSink,
        attributes: Mapping[int, dict[str, Any]] | None = None,
        app: str = "own_page",
    ) -> list[Rejected]:
        """Validate and queue fixes for storage; the sink hears when they are stored.

        Returns the rejections. Waits (backpressure) while the writer's queue is full.
        `attributes` (by seq) are protocol extras kept with the stored fix; `app` is what
        sent them (shown to dispatchers).
        """
        driver_filter = await self._filter(driver.id)
        rejected, items = self._stages(driver, driver_filter, fixes, sink, attributes, app)
        if items:
            await self._writer.put(items)  # 7. durable writer (8: it acks after commit)
        return rejected

    def ingest_now(
        self,
        driver: Driver,
        fixes: Sequence[tuple[int, Fix]],
        sink: StoreSink,
        attributes: Mapping[int, dict[str, Any]] | None = None,
        app: str = "own_page",
    ) -> list[Rejected] | None:
        """`ingest` without waiting; None (and nothing done) when it would wait: the
        driver's state is not loaded yet, or the writer's queue is full."""
        driver_filter = self._filters.get(driver.id)
        if driver_filter is None or not self._writer.has_room:
            return None
        rejected, items = self._stages(driver, driver_filter, fixes, sink, attributes, app)
        if items:
            self._writer.put_nowait(items)  # 7. durable writer (8: it acks after commit)
        return rejected

    def _stages(
        self,
        driver: Driver,
        driver_filter: DriverFilter,
        fixes: Sequence[tuple[int, Fix]],
        sink: StoreSink,
        attributes: Mapping[int, dict[str, Any]] | None,
        app: str,
    ) -> tuple[list[Rejected], list[WriteItem]]:
        """Stages 2-6 for one frame's fixes (decoded: stage 1); returns the rejections and
        the records for the writer."""
        self._metrics.fixes_received.inc(len(fixes))
        spent = self._metrics.stages.seconds
        started = perf_counter()
        received_at = self._clock()
        latest_before = driver_filter.latest
        rejected, items = self._plausible(
            driver.id, driver_filter, fixes, sink, attributes, received_at
        )
        newest = driver_filter.latest  # 3. per-driver state: late fixes do not move it
        validated = perf_counter()
        spent[stage_times.VALIDATE] += validated - started
        if newest is not None and newest is not latest_before:
            update = self._live.on_fix(driver, newest, app)  # 4. live state
            tracked = perf_counter()
            self._live.publish(update)  # 5. publish
            published = perf_counter()
            self._notifier.live_notices(update.notices)  # 6. notifier
            self._notifier.position(driver.id, newest)
            if self._routing is not None:  # never waits: schedules work at most
                self._routing.on_fix(driver.id, newest, update.tracked)
            spent[stage_times.TRACK] += tracked - validated
            spent[stage_times.PUBLISH] += published - tracked
            spent[stage_times.NOTIFY] += perf_counter() - published
        return rejected, items

    def _plausible(
        self,
        driver_id: int,
        driver_filter: DriverFilter,
        fixes: Sequence[tuple[int, Fix]],
        sink: StoreSink,
        attributes: Mapping[int, dict[str, Any]] | None,
        received_at: datetime,
    ) -> tuple[list[Rejected], list[WriteItem]]:
        """2. plausibility: each fix judged (and, if accepted, made the driver's newest
        unless late) in order; the accepted become the writer's records."""
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
        return rejected, items
