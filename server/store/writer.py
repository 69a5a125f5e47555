"""The batched, durable writer: a bounded queue of accepted fixes, written in batches.

Group commit: whenever the writer is free it writes whatever is queued (up to
`batch_max_rows`) at once, so at low load a fix waits for one commit; fixes arriving while a
commit is in flight queue up and form the next batch, so batches grow only with the load.
Under load, batches start at most every `batch_min_interval_ms` (default 5): with commits
taking a millisecond or two, a writer that started the next batch the moment it was free
made ~450 commits/s of ~5 fixes at 2,500 fixes/s, and each commit's fixed cost (the
statement, the pool, the acks' bookkeeping) was ~45 us of event-loop time per fix
(`tracker bench`). Only a batch of more than one fix (fixes came while the one before
was written) paces the next, so at low load nothing waits; under load a fix waits at most
the interval for its batch to start.
An optional linger (`batch_max_wait_ms`, default 0) holds a batch that is not full until its
oldest fix has waited that long: fewer, larger commits for more latency.
Each item carries a sink that is told once its fix is committed; that is when devices get
their ack. When the database is unreachable the batch is retried with backoff, forever,
and the queue fills up: `put` then blocks, so courier sockets stop being read instead of
the server dropping fixes or growing without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import date
from typing import Protocol

import asyncpg

from server.base import stage_times
from server.base.metrics import Metrics
from server.base.settings import Settings
from server.store import partitions, queries

log = logging.getLogger("tracker.writer")


class StoreSink(Protocol):
    """Told the fate of fixes it submitted. Called on the event loop, must not block."""

    def stored(self, seqs: list[int]) -> None: ...

    def failed(self, seq: int, reason: str) -> None: ...


WriteItem = tuple[queries.PositionRecord, StoreSink, int]

# Batches up to this many rows (the default `batch_max_rows`) are written in one statement,
# one round trip instead of five. Since the statement takes the batch as one jsonb value
# (queries.store_positions_at_once) it costs the writer less CPU than COPY at every size
# measured, in wall time no more: client CPU per row 6.6-8.2 µs against 24 at 100 rows,
# 3.2 against 12 at 300, 1.6-1.7 against 7.8 at 1,000 (this 2-core machine, 6,000 rows
# per size). Larger batches (a larger `batch_max_rows`) still go by COPY.
AT_ONCE_MAX_ROWS = 1000

# SQLSTATE classes worth retrying: connection, resources, operator intervention,
# transaction rollback, system error. Also a partition missing under our feet (dropped by
# retention in another process: "no partition of relation found for row" is 23514, as
# positions has no CHECK constraints of its own); the retry re-creates it.
_TRANSIENT_CLASSES = ("08", "53", "57", "40", "58", "XX")
_TRANSIENT_STATES = ("42P01", "23514")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, asyncpg.PostgresError):
        state = exc.sqlstate or ""
        return state[:2] in _TRANSIENT_CLASSES or state in _TRANSIENT_STATES
    return isinstance(exc, (OSError, TimeoutError, asyncpg.InterfaceError))


class BatchWriter:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, metrics: Metrics) -> None:
        self._pool = pool
        self._metrics = metrics
        self._batch_rows = settings.batch_max_rows
        self._linger_s = settings.batch_max_wait_ms / 1000.0
        self._interval_s = settings.batch_min_interval_ms / 1000.0
        self._started_at_s = 0.0  # monotonic time the last batch started
        self._paced = False  # whether the next batch waits for the interval
        self._max_rows = settings.write_queue_max_rows
        self._retry_max_s = settings.db_retry_max_s
        self._items: list[WriteItem] = []
        self._oldest_at_s = 0.0  # monotonic time the oldest queued fix was queued
        self._nonempty = asyncio.Event()
        self._batch_full = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._known_days: set[date] = set()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.healthy = True
        metrics.write_queue_rows.set_function(lambda: len(self._items))

    @property
    def depth(self) -> int:
        return len(self._items)

    def start(self) -> None:
        # Its own time on the loop is the `writer` stage (server/base/stage_times.py).
        run = self._metrics.stages.timed(self._run(), stage_times.WRITER)
        self._task = asyncio.create_task(run, name="batch-writer")

    @property
    def has_room(self) -> bool:
        return len(self._items) < self._max_rows

    async def put(self, items: Sequence[WriteItem]) -> None:
        """Queue fixes for storage; waits while the queue is full (backpressure)."""
        while not self.has_room:
            self._space.clear()
            await self._space.wait()
        self.put_nowait(items)

    def put_nowait(self, items: Sequence[WriteItem]) -> None:
        """Queue fixes now: for callers that checked `has_room` (one message may take
        the queue past its bound by at most that message's fixes)."""
        if not self._items:
            self._oldest_at_s = time.monotonic()
        self._items.extend(items)
        self._nonempty.set()
        if len(self._items) >= self._batch_rows:
            self._batch_full.set()

    async def close(self, timeout_s: float) -> None:
        """Flush what is queued (up to `timeout_s`), then stop."""
        self._closing = True
        self._nonempty.set()
        self._batch_full.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError:
            log.warning("shutdown: %d fixes not stored (devices will resend)", len(self._items))
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            if not self._items:
                if self._closing:
                    return
                self._nonempty.clear()
                await self._nonempty.wait()
                continue
            if self._linger_s > 0:
                await self._linger()
            if self._paced:
                await self._pace()
            self._started_at_s = time.monotonic()
            batch = self._items[: self._batch_rows]
            self._paced = len(batch) > 1  # under load: the next batch waits its turn
            del self._items[: self._batch_rows]
            if len(self._items) < self._max_rows:
                self._space.set()
            await self._write(batch)
            del batch  # its sinks (courier sessions) must not outlive their sockets here

    async def _linger(self) -> None:
        """Wait for a full batch while the oldest fix is younger than the linger: fixes
        that queued up during the last write have waited already."""
        wait_s = self._oldest_at_s + self._linger_s - time.monotonic()
        if len(self._items) < self._batch_rows and not self._closing and wait_s > 0:
            self._batch_full.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._batch_full.wait(), wait_s)

    async def _pace(self) -> None:
        """Wait until the last batch started at least the interval ago, unless a full batch
        is queued or the writer is closing (what is queued goes at once)."""
        wait_s = self._started_at_s + self._interval_s - time.monotonic()
        if wait_s > 0 and len(self._items) < self._batch_rows and not self._closing:
            self._batch_full.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._batch_full.wait()

    async def _write(self, batch: list[WriteItem]) -> None:
        delay_s = 0.05
        while True:
            try:
                await self._flush(batch)
            except Exception as exc:
                self._known_days.clear()
                if not is_transient(exc):
                    self._metrics.write_errors.labels("rejected_by_database").inc()
                    await self._isolate(batch, exc)
                    return
                self._metrics.write_errors.labels(type(exc).__name__).inc()
                if self.healthy:
                    log.warning("database write failed, retrying until it works: %r", exc)
                self.healthy = False
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, self._retry_max_s)
                continue
            if not self.healthy:
                log.warning("database writes recovered")
            self.healthy = True
            _notify_stored(batch)
            return

    async def _isolate(self, batch: list[WriteItem], exc: Exception) -> None:
        """The database refused the batch itself: split it so only the bad fixes fail."""
        if len(batch) == 1:
            _, sink, seq = batch[0]
            log.error("database refused a fix (seq %s): %r", seq, exc)
            sink.failed(seq, f"storage: {type(exc).__name__}")
            return
        middle = len(batch) // 2
        await self._write(batch[:middle])
        await self._write(batch[middle:])

    async def _flush(self, batch: list[WriteItem]) -> None:
        started = time.perf_counter()
        records = [item[0] for item in batch]
        days = {record[1].date() for record in records} - self._known_days
        async with self._pool.acquire() as conn:
            if days:
                await partitions.ensure_days(conn, days)
                self._known_days |= days
            if len(records) <= AT_ONCE_MAX_ROWS:
                new_rows = await queries.store_positions_at_once(conn, records)
            else:
                async with conn.transaction():
                    new_rows = await queries.store_positions(conn, records)
        self._metrics.batch_seconds.observe(time.perf_counter() - started)
        self._metrics.batch_rows.observe(len(batch))
        self._metrics.fixes_stored.inc(new_rows)
        self._metrics.fixes_duplicate.inc(len(batch) - new_rows)


def _notify_stored(batch: list[WriteItem]) -> None:
    by_sink: dict[StoreSink, list[int]] = {}
    for _, sink, seq in batch:
        seqs = by_sink.get(sink)
        if seqs is None:
            by_sink[sink] = [seq]
        else:
            seqs.append(seq)
    for sink, seqs in by_sink.items():
        sink.stored(seqs)
