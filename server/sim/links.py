"""How a simulated courier talks to the server: the courier socket (acks, resends) or the
OsmAnd HTTP protocol (Traccar Client's). Both keep every fix until the server confirms it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

log = logging.getLogger("tracker.sim")
MAX_BATCH = 500


class SocketLink:
    """`/ws/driver` with seq numbers; unacked fixes are resent after every reconnect."""

    def __init__(self, ws_url: str, token: str) -> None:
        self._url = f"{ws_url}/ws/driver?token={token}"
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self.pending: dict[int, dict[str, Any]] = {}
        self.acked = 0
        self.rejected = 0

    async def connect(self) -> None:
        self._ws = await websockets.connect(self._url, open_timeout=10)
        self._reader = asyncio.create_task(self._read(self._ws))
        backlog = sorted(self.pending.values(), key=lambda f: int(f["seq"]))
        for i in range(0, len(backlog), MAX_BATCH):  # a tunnel's worth, as offline backlogs
            await self._ws.send(json.dumps({"type": "fixes", "fixes": backlog[i : i + MAX_BATCH]}))

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "ack":
                    for seq in message["seqs"]:
                        if self.pending.pop(seq, None) is not None:
                            self.acked += 1
                elif message["type"] == "rejected":
                    self.pending.pop(message["seq"], None)
                    self.rejected += 1
                    log.info("fix rejected: %s", message["reason"])

    @property
    def online(self) -> bool:
        return self._ws is not None

    async def send(self, fix: dict[str, Any]) -> None:
        self.pending[int(fix["seq"])] = fix
        if self._ws is None:
            return  # in a tunnel: kept for later
        try:
            await self._ws.send(json.dumps(fix))
        except websockets.ConnectionClosed:
            await self.disconnect()

    async def disconnect(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        if self._reader is not None:
            await self._reader


class OsmandLink:
    """Traccar Client's protocol: one HTTP request per fix, 200 once stored."""

    def __init__(self, base_url: str, device_id: str, client: httpx.AsyncClient) -> None:
        self._base_url = base_url
        self._device_id = device_id
        self._client = client
        self._online = False
        self.pending: dict[int, dict[str, Any]] = {}
        self.acked = 0
        self.rejected = 0

    async def connect(self) -> None:
        self._online = True
        for seq in sorted(self.pending):
            await self._post(self.pending[seq])

    @property
    def online(self) -> bool:
        return self._online

    async def send(self, fix: dict[str, Any]) -> None:
        self.pending[int(fix["seq"])] = fix
        if self._online:
            await self._post(fix)

    async def _post(self, fix: dict[str, Any]) -> None:
        params = {
            "id": self._device_id,
            "timestamp": str(int(fix["t"]) // 1000),
            "lat": str(fix["lat"]),
            "lon": str(fix["lon"]),
            "speed": str(round(float(fix.get("speed") or 0.0) * 3600 / 1852, 2)),  # knots
            "bearing": str(fix.get("heading") or 0.0),
            "accuracy": str(fix.get("acc") or 0.0),
        }
        try:
            response = await self._client.get(f"{self._base_url}/osmand", params=params)
        except httpx.HTTPError:
            return  # kept; sent again on the next connect
        if response.status_code == 200:
            self.pending.pop(int(fix["seq"]), None)
            if response.headers.get("x-tracker-rejected"):
                self.rejected += 1
            else:
                self.acked += 1

    async def disconnect(self) -> None:
        self._online = False
