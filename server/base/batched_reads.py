"""Reads that many callers want at once, answered group-commit style.

After a restart every courier and customer reconnects within seconds, and each connect
wants a row or two (a courier's newest stored fix, its recent messages, an order behind a
tracking code). One query each takes the pool from everyone else: measured, 2,500 couriers
reconnecting at once timed out on the pool hundreds of times and their acks ran 10 s
late. Here the first caller starts a read, and every caller that arrives while it runs
is answered by the next one: a single query for all of them, so a storm of N connects is
a handful of queries whatever N is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

import asyncpg

from server.base.dbguard import bounded_connection

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# One query for up to this many keys: a bounded statement, and the next batch starts at once.
MAX_KEYS_PER_READ = 1_000

ReadMany = Callable[[Any, Sequence[K]], Awaitable[Mapping[K, V]]]  # (connection, keys)
# A bounded connection for one read (services.db, or `pooled`).
Connect = Callable[[], AbstractAsyncContextManager[Any]]


def pooled(pool: asyncpg.Pool, db_timeout_s: float) -> Connect:
    """Reads on `pool`'s connections, each bounded by `db_timeout_s` (dbguard.py)."""
    return lambda: bounded_connection(pool, db_timeout_s)


class BatchedReads(Generic[K, V]):
    """`await reads.of(key)`: the value `read_many` finds for `key`, or `missing` when it
    finds none; raises what the read raised (DatabaseUnavailable when the database is away
    or the pool stays busy past the budget)."""

    def __init__(self, connect: Connect, read_many: ReadMany[K, V], missing: V) -> None:
        self._connect = connect
        self._read_many = read_many
        self._missing = missing
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._reading: asyncio.Task[None] | None = None

    async def of(self, key: K) -> V:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._reading is None:
            self._reading = asyncio.create_task(self._read())
            self._reading.add_done_callback(self._read_ended)
        return await future

    def _read_ended(self, task: asyncio.Task[None]) -> None:
        """A read cancelled (the server stopping), even before it started: nobody may wait
        for a read that never comes."""
        if not task.cancelled():
            return
        if self._reading is task:
            self._reading = None
        if self._reading is None:  # else a newer read took the waiting callers on
            _settle(self._waiting, None)
            self._waiting = {}

    async def _read(self) -> None:
        batch: dict[K, list[asyncio.Future[V]]] = {}
        try:
            while self._waiting:
                keys = list(self._waiting)[:MAX_KEYS_PER_READ]
                batch = {key: self._waiting.pop(key) for key in keys}
                try:
                    async with self._connect() as conn:
                        found = await self._read_many(conn, keys)
                except Exception as exc:
                    _settle(batch, exc)
                    continue
                for key, futures in batch.items():
                    value = found.get(key, self._missing)
                    for future in futures:
                        if not future.done():  # its caller may have gone (cancelled)
                            future.set_result(value)
        finally:
            self._reading = None
            _settle(batch, None)  # cancelled mid-read: its callers too (see _read_ended)


def _settle(batch: Mapping[Any, list[asyncio.Future[V]]], error: Exception | None) -> None:
    """Fail every future of `batch` still pending with `error`, or cancel it (None); a
    caller that gave up is done already."""
    for futures in batch.values():
        for future in futures:
            if future.done():
                continue
            if error is None:
                future.cancel()
            else:
                future.set_exception(error)
