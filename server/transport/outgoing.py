"""What a process has still to send to the bus: bounded, conflating, never blocking.

Publishing only appends here; one task drains it to Redis. A message with a key (a
position on one order's channel, one driver's state) replaces the one with the same key
still waiting, so a slow or absent bus holds the newest of each, not a backlog. When the
bound is reached the oldest conflatable message is dropped, and only if there is none the
oldest message of all: publishers never wait. While the bus is down nothing is queued (see
redis_hub.py for how processes catch up instead).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Hashable

Item = tuple[bytes, bytes]  # (channel, payload)


class Outgoing:
    __slots__ = ("_emptied", "_items", "_max", "_unique", "_wake", "dropped")

    def __init__(self, max_messages: int) -> None:
        self._max = max_messages
        self._items: dict[Hashable, Item] = {}
        self._unique = itertools.count()
        self._wake = asyncio.Event()
        self._emptied = asyncio.Event()
        self._emptied.set()
        self.dropped = 0

    def put(self, channel: bytes, payload: bytes, key: Hashable | None = None) -> None:
        items = self._items
        if key is None:
            items[next(self._unique)] = (channel, payload)
        else:
            items.pop(key, None)  # the newest goes to the back
            items[key] = (channel, payload)
        if len(items) > self._max:
            self._drop_one()
        self._emptied.clear()
        self._wake.set()

    def _drop_one(self) -> None:
        items = self._items
        victim = next((k for k in items if not isinstance(k, int)), None)
        if victim is None:
            victim = next(iter(items))
        del items[victim]
        self.dropped += 1

    def take_nowait(self, limit: int) -> list[Item]:
        """Up to `limit` messages, oldest first."""
        items = self._items
        keys = list(itertools.islice(items, limit))
        taken = [items.pop(k) for k in keys]
        if not items:
            self._emptied.set()
        return taken

    async def take(self, limit: int) -> list[Item]:
        """Wait for messages and take up to `limit`, oldest first."""
        while not self._items:
            self._wake.clear()
            await self._wake.wait()
        return self.take_nowait(limit)

    def clear(self) -> None:
        self.dropped += len(self._items)
        self._items.clear()
        self._emptied.set()

    async def empty(self) -> None:
        """Wait until everything put so far has been taken."""
        await self._emptied.wait()

    def __len__(self) -> int:
        return len(self._items)
