"""The driver cache's rules against the real database, without a server or a listener (so
nothing but the cache itself can forget): a rotation forgets before it returns, a look-up
overtaken by an invalidation is not kept, no negative entries, a bounded LRU, nothing
served while deaf, and entries that expire."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from server.base.auth import hash_token
from server.store import queries
from server.store.queries import Driver
from server.usecases.driver_cache import Db, DriverCache, rotate_token


@contextlib.asynccontextmanager
async def _borrow(conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    yield conn


def of(conn: asyncpg.Connection) -> Db:
    """The test's own connection, lent to each look-up as the pool would lend one."""
    return lambda: _borrow(conn)


async def new_driver(db: asyncpg.Connection, name: str) -> Driver:
    return await queries.create_driver(
        db, name=name, phone=None, vehicle=None, device_id=f"{name}-phone",
        token_hash=hash_token(f"{name}-token"),
    )  # fmt: skip


def listening_cache(db: Db, **kwargs: object) -> DriverCache:
    cache = DriverCache(db, **kwargs)  # type: ignore[arg-type]
    cache.listening()
    return cache


async def test_a_rotation_forgets_the_old_token_before_it_returns(db: asyncpg.Connection) -> None:
    ana = await new_driver(db, "ana")
    cache = listening_cache(of(db))
    old, new = hash_token("ana-token"), hash_token("ana-new-token")
    assert await cache.by_token_hash(old) == ana
    assert await cache.by_device_id("ana-phone") == ana
    assert cache.peek("token", old) == ana  # kept: the next look-up would not ask
    assert await rotate_token(cache, db, ana.id, new) is not None
    assert cache.peek("token", old) is None and cache.peek("device", "ana-phone") is None
    assert await cache.by_token_hash(old) is None
    assert await cache.by_token_hash(new) == ana


async def test_a_lookup_overtaken_by_an_invalidation_is_not_kept(db: asyncpg.Connection) -> None:
    ana = await new_driver(db, "ana")
    read, go_on = asyncio.Event(), asyncio.Event()
    reads = []

    @contextlib.asynccontextmanager
    async def slow_until_go_on() -> AsyncIterator[asyncpg.Connection]:
        reads.append(True)
        yield db
        read.set()  # the row is read; the answer is not back yet
        await go_on.wait()

    cache = listening_cache(slow_until_go_on)
    lookup = asyncio.create_task(cache.by_token_hash(hash_token("ana-token")))
    await read.wait()
    cache.forget(ana.id)  # e.g. the notification of a rotation, heard meanwhile
    go_on.set()
    assert await lookup == ana  # this request still had the row it read
    assert cache.peek("token", hash_token("ana-token")) is None  # but it is not kept
    assert await cache.by_token_hash(hash_token("ana-token")) == ana
    assert cache.peek("token", hash_token("ana-token")) == ana
    assert len(reads) == 2  # read again: the overtaken answer was not served from memory


async def test_bounded_least_recently_used_and_no_negative_entries(
    db: asyncpg.Connection,
) -> None:
    ana, bob, cyd = [await new_driver(db, name) for name in ("ana", "bob", "cyd")]
    cache = listening_cache(of(db), max_entries=2)

    async def by_device(device_id: str) -> Driver | None:
        return await cache.by_device_id(device_id)

    assert [await by_device(d) for d in ("ana-phone", "bob-phone", "ana-phone")] == [ana, bob, ana]
    assert (cache.hits, cache.misses) == (1, 2)
    assert await by_device("cyd-phone") == cyd  # bob was the least recently used
    assert cache.peek("device", "bob-phone") is None
    assert cache.peek("device", "ana-phone") == ana and cache.peek("device", "cyd-phone") == cyd
    for guess in range(50):
        assert await by_device(f"guess-{guess}") is None
    assert len(cache) == 2  # unknown ids take no room, and are asked again each time
    assert await by_device("guess-0") is None and cache.misses == 2 + 1 + 50 + 1


async def test_a_deaf_cache_serves_and_keeps_nothing(db: asyncpg.Connection) -> None:
    ana = await new_driver(db, "ana")
    cache = listening_cache(of(db))
    assert await cache.by_device_id("ana-phone") == ana
    cache.deaf()  # the listener lost its connection: a change could go unheard
    assert len(cache) == 0
    await db.execute("UPDATE drivers SET device_id = 'ana-new-phone' WHERE id = $1", ana.id)
    assert await cache.by_device_id("ana-phone") is None
    assert await cache.by_device_id("ana-new-phone") is not None
    assert len(cache) == 0 and cache.hits == 0


async def test_entries_expire(db: asyncpg.Connection) -> None:
    """A change the cache is not told of (here no listener hears the trigger) lasts at most
    the TTL."""
    ana = await new_driver(db, "ana")
    now_s = [0.0]
    cache = listening_cache(of(db), ttl_s=60.0, clock=lambda: now_s[0])
    token = hash_token("ana-token")
    assert await cache.by_token_hash(token) == ana
    await db.execute("UPDATE drivers SET token_hash = 'changed by hand' WHERE id = $1", ana.id)
    now_s[0] = 59.0
    assert await cache.by_token_hash(token) == ana  # still kept
    now_s[0] = 60.0
    assert await cache.by_token_hash(token) is None
    assert len(cache) == 0
