"""Group commit: the writer starts a batch as soon as it is free with whatever is queued (a
lone fix waits for no linger), and fixes that arrive while a commit is in flight are
written together in the next batch."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from geo.model import Fix
from server.base.metrics import Metrics
from server.base.settings import Settings
from server.store import queries
from server.store.pool import create_pool
from server.store.writer import BatchWriter, WriteItem
from tests.server.courier import now

HANG_GUARD_S = 30.0  # not a timing bound: only stops a broken writer from hanging the run


class Sink:
    """One courier's socket, as the writer sees it: told which of its fixes are stored."""

    def __init__(self) -> None:
        self.stored_seqs: list[int] = []
        self.changed = asyncio.Event()

    def stored(self, seqs: list[int]) -> None:
        self.stored_seqs.extend(seqs)
        self.changed.set()

    def failed(self, seq: int, reason: str) -> None:
        raise AssertionError(f"fix {seq} failed: {reason}")

    async def wait_stored(self, seqs: set[int]) -> None:
        async with asyncio.timeout(HANG_GUARD_S):
            while not seqs <= set(self.stored_seqs):
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def writer(settings: Settings) -> AsyncIterator[tuple[BatchWriter, Metrics]]:
    settings = dataclasses.replace(settings, batch_max_wait_ms=0.0, batch_max_rows=1000)
    pool = await create_pool(settings)
    metrics = Metrics()
    batch_writer = BatchWriter(pool, settings, metrics)
    batch_writer.start()
    try:
        yield batch_writer, metrics
    finally:
        await batch_writer.close(HANG_GUARD_S)
        await pool.close()


async def new_driver(db: asyncpg.Connection, name: str) -> int:
    driver = await queries.create_driver(
        db, name=name, phone=None, vehicle=None, device_id=None, token_hash=f"hash-{name}"
    )
    return driver.id


def item(driver_id: int, seq: int, sink: Sink) -> WriteItem:
    fix = Fix(recorded_at=now() - timedelta(seconds=60 - seq), lon=11.9 + seq * 1e-4, lat=50.3)
    return queries.position_record(driver_id, fix, now()), sink, seq


async def wait_for_writer_blocked_on(db: asyncpg.Connection, table: str) -> None:
    """Until another session (the writer's) waits for a lock on `table`."""
    async with asyncio.timeout(HANG_GUARD_S):
        # The database's lock table has no event to wait on: poll it against the deadline.
        while not await db.fetchval(  # noqa: ASYNC110
            """SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
               WHERE NOT l.granted AND c.relname = $1""",
            table,
        ):
            await asyncio.sleep(0.01)


def batches(metrics: Metrics) -> tuple[float, float]:
    """How many batches were committed, and how many rows they held in all."""
    count = metrics.registry.get_sample_value("tracker_write_batch_rows_count")
    rows = metrics.registry.get_sample_value("tracker_write_batch_rows_sum")
    return count or 0.0, rows or 0.0


async def test_a_lone_fix_is_written_at_once_and_later_ones_share_the_next_commit(
    writer: tuple[BatchWriter, Metrics], db: asyncpg.Connection, database_url: str
) -> None:
    batch_writer, metrics = writer
    drivers = [await new_driver(db, name) for name in ("Ana", "Bo", "Cy", "Di")]
    sinks = [Sink() for _ in drivers]
    # Another session holds driver_latest, so the writer's commit stays in flight (its
    # positions rows written, the driver_latest update waiting) until the test lets go.
    blocker = await asyncpg.connect(database_url)
    try:
        hold = blocker.transaction()
        await hold.start()
        await blocker.execute("LOCK TABLE driver_latest IN EXCLUSIVE MODE")

        # One fix, nothing else queued: the writer starts on it without waiting for more
        # (with a linger it would sit queued, and nothing would wait on the lock).
        await batch_writer.put([item(drivers[0], 1, sinks[0])])
        await wait_for_writer_blocked_on(db, "driver_latest")
        assert batch_writer.depth == 0 and sinks[0].stored_seqs == []

        # Three couriers' fixes arrive while that commit is in flight: they queue up.
        for driver_id, sink in zip(drivers[1:], sinks[1:], strict=True):
            await batch_writer.put([item(driver_id, 2, sink)])
        assert batch_writer.depth == 3
        await hold.rollback()
    finally:
        await blocker.close()

    await sinks[0].wait_stored({1})
    for sink in sinks[1:]:
        await sink.wait_stored({2})
    # Acked only once committed: every acked fix is in the database.
    assert await db.fetchval("SELECT count(*) FROM positions") == 4
    # The lone fix was one batch; the three that queued behind it, one more.
    assert batches(metrics) == (2.0, 4.0)


async def test_under_load_batches_start_at_most_every_interval_and_closing_cuts_it_short(
    settings: Settings, db: asyncpg.Connection
) -> None:
    # An interval far longer than the test: a fix held by it is only written once the
    # writer closes, so no timing is guessed.
    settings = dataclasses.replace(
        settings, batch_max_wait_ms=0.0, batch_min_interval_ms=HANG_GUARD_S * 10_000
    )
    pool = await create_pool(settings)
    metrics = Metrics()
    batch_writer = BatchWriter(pool, settings, metrics)
    batch_writer.start()
    try:
        drivers = [await new_driver(db, name) for name in ("Ana", "Bo", "Cy")]
        sinks = [Sink() for _ in drivers]
        # A lone fix finds the writer idle: written at once, and it paces nothing.
        await batch_writer.put([item(drivers[0], 1, sinks[0])])
        await sinks[0].wait_stored({1})
        # Two at once (a courier's backlog, or fixes that queued during a commit): written
        # at once too, since the batch before held one fix; this batch, of two, says the
        # writer is under load...
        await batch_writer.put([item(drivers[0], 2, sinks[0]), item(drivers[0], 3, sinks[0])])
        await sinks[0].wait_stored({2, 3})
        assert batches(metrics) == (2.0, 3.0)

        # ...so the next fix, coming within the interval, is taken up at once (without the
        # interval it would be written alone, as the first was) but its batch is held...
        await batch_writer.put([item(drivers[1], 2, sinks[1])])
        for _ in range(10):
            await asyncio.sleep(0)  # the writer's turns: it would start a batch here
        # ...so a fix arriving meanwhile shares its commit.
        await batch_writer.put([item(drivers[2], 3, sinks[2])])
        assert batch_writer.depth == 2 and sinks[1].stored_seqs == []
    finally:
        await batch_writer.close(HANG_GUARD_S)  # closing: what is queued goes at once
        await pool.close()
    assert sinks[1].stored_seqs == [2] and sinks[2].stored_seqs == [3]
    assert await db.fetchval("SELECT count(*) FROM positions") == 5
    assert batches(metrics) == (3.0, 5.0)
