"""The single-waiter versions of the ASGI receive queue and the `writable` event that
`DirectSocket` (ws_direct.py) gives uvicorn's protocol: asyncio's Queue and Event each
keep a deque (~800 bytes), per socket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class Inbox:
    """The ASGI receive queue for one consumer: uvicorn's protocol only needs
    `put_nowait`, `get` and `empty`, and in direct mode it carries little more than the
    disconnect."""

    __slots__ = ("_closed", "_items", "_waiter", "disconnected", "on_disconnect")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] | None = None
        self.disconnected = False  # a disconnect has been queued
        self.on_disconnect: Callable[[], None] | None = None  # called once, when it is

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        if item["type"] != "websocket.disconnect" or self.disconnected:
            return
        self.disconnected = True
        closed = self._closed
        if closed is not None and not closed.done():
            closed.set_result(None)
        on_disconnect, self.on_disconnect = self.on_disconnect, None
        if on_disconnect is not None:
            on_disconnect()

    def closed(self) -> asyncio.Future[None]:
        """Done once a disconnect has been queued (a future, not a coroutine: a socket
        waits on it all its life, and each coroutine in that chain is an object per socket)."""
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
            if self.disconnected:
                self._closed.set_result(None)
        return self._closed

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def take_messages(self) -> list[bytes]:
        """Remove and return the messages queued so far (not the disconnect)."""
        messages = [i for i in self._items if i["type"] == "websocket.receive"]
        self._items = [i for i in self._items if i["type"] != "websocket.receive"]
        return [m["bytes"] if m.get("bytes") is not None else m["text"].encode() for m in messages]


class Flag:
    """asyncio.Event's subset that uvicorn's protocol uses for `writable`, without a deque."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] = []

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if not self._set:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
        return True
