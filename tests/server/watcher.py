"""A watching client (customer tracking socket or dispatcher fleet socket) for tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

WAIT_S = 30.0
Message = dict[str, Any]


class Watcher:
    """Collects every message a socket sends; waits on conditions with a deadline."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.messages: list[Message] = []
        self.close_code: int | None = None
        self.close_reason = ""
        self._changed = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watcher:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, **kwargs: Any) -> None:
        """Connect and wait for the first message (the snapshot) or the close: only then is
        the server-side subscription certainly in place."""
        self._ws = await websockets.connect(self.url, max_size=None, **kwargs)
        self.close_code = None
        self._reader = asyncio.create_task(self._read(self._ws))
        await self.wait_until(lambda: bool(self.messages) or self.close_code is not None)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self.messages.append(json.loads(raw))
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code if ws.close_code is not None else 1006
            self.close_reason = ws.close_reason or ""
            self._changed.set()

    async def send(self, message: Message | str) -> None:
        assert self._ws is not None
        await self._ws.send(message if isinstance(message, str) else json.dumps(message))

    def of_type(self, kind: str) -> list[Message]:
        return [m for m in self.messages if m["type"] == kind]

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                while not condition():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"timed out; got {self.messages[-5:]}, close code {self.close_code}"
            ) from None

    def mark(self) -> int:
        """Where "from now on" starts, for next_of(since=...): take it before acting."""
        return len(self.messages)

    async def next_of(
        self, kind: str, where: Callable[[Message], bool] = lambda m: True, since: int | None = None
    ) -> Message:
        """The first message of `kind` matching `where` received after `since` (default: now)."""
        start = len(self.messages) if since is None else since

        def found() -> bool:
            return any(m["type"] == kind and where(m) for m in self.messages[start:])

        await self.wait_until(found)
        return next(m for m in self.messages[start:] if m["type"] == kind and where(m))

    async def wait_closed(self, timeout_s: float = WAIT_S) -> int:
        await self.wait_until(lambda: self.close_code is not None, timeout_s)
        assert self.close_code is not None
        return self.close_code

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader
