"""A fix the database refuses (here a NUL character in its attributes, which jsonb cannot
hold) fails alone: the writer splits the batch until the bad fix is on its own, its sender
is told why, and every other fix of the batch is stored and acknowledged. For both of the
writer's ways of storing a batch: one statement (the batch as one jsonb value, where a
single bad string spoils the whole value) and COPY."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import asyncpg
import pytest

from geo.model import Fix
from server.base.metrics import Metrics
from server.base.settings import Settings
from server.store import queries
from server.store.pool import create_pool
from server.store.writer import AT_ONCE_MAX_ROWS, BatchWriter, WriteItem
from tests.server.courier import now

HANG_GUARD_S = 30.0  # not a timing bound: only stops a broken writer from hanging the run


class Sink:
    def __init__(self, expected: int) -> None:
        self.stored_seqs: list[int] = []
        self.failures: dict[int, str] = {}
        self._expected = expected
        self.done = asyncio.Event()

    def stored(self, seqs: list[int]) -> None:
        self.stored_seqs.extend(seqs)
        self._check()

    def failed(self, seq: int, reason: str) -> None:
        self.failures[seq] = reason
        self._check()

    def _check(self) -> None:
        if len(self.stored_seqs) + len(self.failures) >= self._expected:
            self.done.set()


@pytest.mark.parametrize("rows", [3, AT_ONCE_MAX_ROWS + 20], ids=["at_once", "copy"])
async def test_a_refused_fix_fails_alone(
    settings: Settings, db: asyncpg.Connection, rows: int
) -> None:
    settings = dataclasses.replace(settings, batch_max_wait_ms=0.0, batch_max_rows=2 * rows)
    driver = await queries.create_driver(
        db, name="Ana", phone=None, vehicle=None, device_id=None, token_hash="hash-ana"
    )
    bad_seq = rows // 2
    sink = Sink(rows)
    items: list[WriteItem] = []
    for seq in range(rows):
        fix = Fix(recorded_at=now() - timedelta(seconds=rows - seq), lon=11.9, lat=50.3)
        attributes = {"note": "nul \u0000 here" if seq == bad_seq else "fine"}
        items.append((queries.position_record(driver.id, fix, now(), attributes), sink, seq))
    pool = await create_pool(settings)
    writer = BatchWriter(pool, settings, Metrics())
    writer.start()
    try:
        writer.put_nowait(items)  # one batch: the writer has not run yet
        async with asyncio.timeout(HANG_GUARD_S):
            await sink.done.wait()
    finally:
        await writer.close(HANG_GUARD_S)
        await pool.close()
    assert list(sink.failures) == [bad_seq]
    assert sink.failures[bad_seq].startswith("storage: ")
    assert sorted(sink.stored_seqs) == [s for s in range(rows) if s != bad_seq]
    stored = await db.fetchval("SELECT count(*) FROM positions WHERE driver_id = $1", driver.id)
    assert stored == rows - 1
