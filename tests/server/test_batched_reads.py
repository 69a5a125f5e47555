"""Reads wanted by many callers at once are answered by a few queries
(server/base/batched_reads.py), each caller getting its own answer; a failed read fails
only the callers it was for; a caller that gives up disturbs nobody. Against a real pool."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from asyncpg.pool import PoolConnectionProxy

from server.base.batched_reads import MAX_KEYS_PER_READ, BatchedReads, pooled
from server.base.settings import Settings
from server.store.pool import create_pool


class Doubler:
    """read_many: key -> 2 * key for even keys (odd ones are "not found"), by a real query;
    remembers each batch of keys, and can be told to fail the next read."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.fail_next = False

    async def __call__(self, conn: PoolConnectionProxy, keys: Sequence[int]) -> dict[int, int]:
        self.batches.append(list(keys))
        if self.fail_next:
            self.fail_next = False
            await conn.fetchval("SELECT 1 / 0")
        rows = await conn.fetch(
            "SELECT k, k * 2 AS v FROM unnest($1::int[]) k WHERE k % 2 = 0", list(keys)
        )
        return {row["k"]: row["v"] for row in rows}


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(dataclasses.replace(settings, db_pool_size=1))
    yield pool
    await pool.close()


async def test_a_storm_of_callers_is_a_few_queries(pool: asyncpg.Pool) -> None:
    read = Doubler()
    reads = BatchedReads(pooled(pool, 5.0), read, -1)
    keys = [k for k in range(600) for _ in range(2)]  # every key asked for twice
    answers = await asyncio.gather(*(reads.of(k) for k in keys))
    assert answers == [2 * k if k % 2 == 0 else -1 for k in keys]
    assert len(read.batches) <= 2, read.batches  # 1,200 callers, not 1,200 queries
    assert sorted(k for batch in read.batches for k in batch) == list(range(600))


async def test_a_big_storm_is_read_in_bounded_slices(pool: asyncpg.Pool) -> None:
    read = Doubler()
    reads = BatchedReads(pooled(pool, 5.0), read, -1)
    count = 2 * MAX_KEYS_PER_READ + 10
    answers = await asyncio.gather(*(reads.of(k) for k in range(count)))
    assert answers == [2 * k if k % 2 == 0 else -1 for k in range(count)]
    assert all(len(batch) <= MAX_KEYS_PER_READ for batch in read.batches)
    assert len(read.batches) <= 4


async def test_a_failed_read_fails_only_its_callers(pool: asyncpg.Pool) -> None:
    read = Doubler()
    reads = BatchedReads(pooled(pool, 5.0), read, -1)
    read.fail_next = True
    failed = await asyncio.gather(*(reads.of(k) for k in (2, 4)), return_exceptions=True)
    assert all(isinstance(result, asyncpg.DivisionByZeroError) for result in failed)
    assert list(await asyncio.gather(reads.of(2), reads.of(6))) == [4, 12]  # the next read works


async def test_a_caller_that_gives_up_disturbs_nobody(pool: asyncpg.Pool) -> None:
    read = Doubler()
    reads = BatchedReads(pooled(pool, 5.0), read, -1)
    async with pool.acquire():  # the only connection: the read waits for it
        quitter = asyncio.ensure_future(reads.of(8))
        stayer = asyncio.ensure_future(reads.of(8))
        await asyncio.sleep(0)  # one turn of the loop: both are waiting on the read
        quitter.cancel()
    assert await asyncio.wait_for(stayer, 5.0) == 16
    assert quitter.cancelled()


async def test_a_read_cancelled_with_the_server_leaves_nobody_waiting(
    pool: asyncpg.Pool,
) -> None:
    read = Doubler()
    reads = BatchedReads(pooled(pool, 5.0), read, -1)
    async with pool.acquire():  # the only connection: the read waits for it
        waiter = asyncio.ensure_future(reads.of(4))
        await asyncio.sleep(0)  # one turn: the caller waits, the read has started
        reader = reads._reading  # the task a stopping server cancels
        assert reader is not None
        reader.cancel()
    # The connection is back (the read may be cancelled only once it gets one).
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiter, 5.0)  # cancelled with the read: no hang
    assert await reads.of(6) == 12  # and the next caller starts a read of its own
