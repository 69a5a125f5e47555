"""A scripted courier: a real `websockets` client speaking the /ws/driver protocol."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

WAIT_S = 30.0


def fix(seq: int, t: datetime, lon: float, lat: float, **extra: Any) -> dict[str, Any]:
    return {
        "type": "fix",
        "seq": seq,
        "t": int(t.timestamp() * 1000),
        "lat": lat,
        "lon": lon,
        **extra,
    }


def now() -> datetime:
    return datetime.now(UTC)


class Courier:
    """Sends frames, records what comes back; waits on conditions, never on the clock."""

    def __init__(self, ws_url: str, token: str | None) -> None:
        self.url = f"{ws_url}/ws/driver" + (f"?token={token}" if token is not None else "")
        self.acked: set[int] = set()
        self.ack_messages = 0
        self.rejected: dict[int | None, str] = {}
        self.errors: list[str] = []
        self.messages: list[dict[str, Any]] = []  # from dispatch
        self.close_code: int | None = None
        self._changed = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Courier:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, **kwargs: Any) -> None:
        self._ws = await websockets.connect(self.url, max_size=None, **kwargs)
        self.close_code = None
        self._reader = asyncio.create_task(self._read(self._ws))

    @property
    def ws(self) -> ClientConnection:
        assert self._ws is not None
        return self._ws

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "ack":
                    self.acked.update(message["seqs"])
                    self.ack_messages += 1
                elif message["type"] == "rejected":
                    self.rejected[message["seq"]] = message["reason"]
                elif message["type"] == "error":
                    self.errors.append(message["reason"])
                elif message["type"] == "message":
                    self.messages.append(message)
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code if ws.close_code is not None else 1006
            self._changed.set()

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(message if isinstance(message, (str, bytes)) else json.dumps(message))

    async def send_batch(self, fixes: list[Any]) -> None:
        await self.send({"type": "fixes", "fixes": fixes})

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        async with asyncio.timeout(timeout_s):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def wait_acked(self, seqs: Iterable[int], timeout_s: float = WAIT_S) -> None:
        wanted = set(seqs)
        try:
            await self.wait_until(lambda: wanted <= self.acked, timeout_s)
        except TimeoutError:
            missing = sorted(wanted - self.acked)
            raise AssertionError(
                f"{len(missing)} fixes not acked (first {missing[:10]}); "
                f"rejected {list(self.rejected.items())[:5]}, errors {self.errors[:5]}, "
                f"close code {self.close_code}"
            ) from None

    async def wait_closed(self, timeout_s: float = WAIT_S) -> int:
        await self.wait_until(lambda: self.close_code is not None, timeout_s)
        assert self.close_code is not None
        return self.close_code

    def drop(self) -> None:
        """Cut the TCP connection without a closing handshake, like a phone losing signal."""
        self.ws.transport.abort()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader
