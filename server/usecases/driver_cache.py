"""Drivers by credential from memory: the phone-app and HTTP-ingest paths (`/osmand`,
`/owntracks`, `/api/ingest`, and courier sockets opening) resolve a device id or a token
hash without a database round trip per request.

Only drivers found are kept, never "no such device/token": an unknown id or a wrong token
goes to the database every time, as before, so guessing can neither fill this memory nor
learn from a faster second answer; those failures stay throttled per client address
(edges/phone_apps/device_guard.py). At most MAX_ENTRIES keys, least recently used first out.

An entry is right only while every change to a driver's credentials reaches it:
- here, the change itself (`rotate_token`) forgets the driver before it answers, so the
  very next request on this process sees the new state;
- on every other process, the revocation listener (revocation.py) forgets the driver a
  notification names, and tells `listening` / `deaf` as its connection comes and goes.
  The database sends one with every commit that changes a driver's token hash or device
  id or deletes it (triggers, migration 0009), whoever wrote it, SQL by hand included.
  While deaf a notification could be missed: nothing is served from memory or kept, and
  hearing again starts from empty;
- a look-up that an invalidation overtook is not kept (`_generation`): it may have read
  the row as it was before;
- an entry expires after ENTRY_TTL_S: what the triggers cannot see (a TRUNCATE, which
  the bench and tests use) lasts at most that long.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from server.base.batched_reads import BatchedReads
from server.store import Conn, credentials, queries
from server.store.queries import Driver

MAX_ENTRIES = 20_000  # keys (a device id or a token hash each): a few MB at most
ENTRY_TTL_S = 300.0

Key = tuple[str, str]  # ("device", device id) or ("token", token hash)
Db = Callable[[], AbstractAsyncContextManager[Conn]]


class DriverCache:
    def __init__(
        self,
        db: Db,
        max_entries: int = MAX_ENTRIES,
        ttl_s: float = ENTRY_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db  # a bounded pooled connection per read (services.Services.db)
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[Key, tuple[Driver, float]] = OrderedDict()  # expires_at
        self._keys_of: dict[int, set[Key]] = {}
        self._generation = 0  # bumped by every invalidation
        self._trusted = False
        self.hits = 0
        self.misses = 0
        # Misses read in batches (a fleet reconnecting at once), per kind of key; the read
        # starts after the call, so a change committed before it is seen.
        self._reads: dict[str, BatchedReads[str, Driver | None]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def trusted(self) -> bool:
        """Changes are being heard: entries are served and kept."""
        return self._trusted

    # Invalidation

    def listening(self) -> None:
        """Changes are heard from now on: start from empty (some may have been missed)."""
        self._clear()
        self._trusted = True

    def deaf(self) -> None:
        """Changes can no longer be heard: serve and keep nothing until `listening`."""
        self._trusted = False
        self._clear()

    def forget(self, driver_id: int) -> None:
        """The driver's credentials changed (or it is gone): drop what is kept of it."""
        self._generation += 1
        for key in self._keys_of.pop(driver_id, ()):
            self._entries.pop(key, None)

    def _clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._keys_of.clear()

    # Look-ups

    async def by_device_id(self, device_id: str) -> Driver | None:
        return await self._lookup(("device", device_id))

    async def by_token_hash(self, token_hash: str) -> Driver | None:
        return await self._lookup(("token", token_hash))

    def peek(self, kind: str, value: str) -> Driver | None:
        """What is kept under the key, without a look-up (for tests and diagnostics)."""
        entry = self._entries.get((kind, value))
        return None if entry is None else entry[0]

    async def _lookup(self, key: Key) -> Driver | None:
        entry = self._entries.get(key) if self._trusted else None
        if entry is not None:
            kept, expires_at = entry
            if self._clock() < expires_at:
                self._entries.move_to_end(key)
                self.hits += 1
                return kept
            self._drop(key, kept.id)
        self.misses += 1
        generation = self._generation
        kind, value = key
        reads = self._reads.get(kind)
        if reads is None:  # read with the other misses of the moment: one query for all
            read_many = (
                queries.drivers_by_device_ids
                if kind == "device"
                else queries.drivers_by_token_hashes
            )
            reads = self._reads[kind] = BatchedReads(self._db, read_many, None)
        driver = await reads.of(value)
        if driver is not None and self._trusted and generation == self._generation:
            self._keep(key, driver)
        return driver

    def _keep(self, key: Key, driver: Driver) -> None:
        self._entries[key] = (driver, self._clock() + self._ttl_s)
        self._entries.move_to_end(key)
        self._keys_of.setdefault(driver.id, set()).add(key)
        while len(self._entries) > self._max_entries:
            old_key, (old, _) = self._entries.popitem(last=False)
            self._unindex(old_key, old.id)

    def _drop(self, key: Key, driver_id: int) -> None:
        self._entries.pop(key, None)
        self._unindex(key, driver_id)

    def _unindex(self, key: Key, driver_id: int) -> None:
        keys = self._keys_of.get(driver_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_of[driver_id]


async def rotate_token(
    cache: DriverCache, conn: Conn, driver_id: int, token_hash: str
) -> Driver | None:
    """Give the driver a new token (committed with the notification every other process
    hears), forgotten here before the caller answers."""
    try:
        return await credentials.rotate_driver_token(conn, driver_id, token_hash)
    finally:
        cache.forget(driver_id)  # even on failure: whether it committed is unknown
