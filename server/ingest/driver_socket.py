"""`WS /ws/driver`: courier fixes in, acks after commit, rejections and errors out.

One reader loop per connection decodes frames and hands fixes to the pipeline (which
blocks when storage is behind, so we stop reading: backpressure). Everything sent back
goes through one sender task, so acks batch up per commit and the reader never waits on
the courier's socket. A bad frame never closes the connection; a client that floods us
with frames whose replies it does not read does.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from starlette.websockets import WebSocket, WebSocketDisconnect

from server import wire
from server.auth import presented_token
from server.services import Services

log = logging.getLogger("tracker.ingest")

CLOSE_UNAUTHORIZED = 4401
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_POLICY = 1008
MAX_OUTBOX_MESSAGES = 1_000


class DriverSession:
    """The reply side of one courier connection; also the writer's sink for its fixes."""

    __slots__ = ("_acks", "_outbox", "_wake", "_ws", "closed")

    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws
        self._acks: list[int] = []
        self._outbox: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self.closed = False

    # StoreSink
    def stored(self, seqs: list[int]) -> None:
        if not self.closed:
            self._acks.extend(seqs)
            self._wake.set()

    def failed(self, seq: int, reason: str) -> None:
        self.send(wire.Rejected(seq, reason))

    def send(self, message: wire.Rejected | wire.Error) -> None:
        if not self.closed:
            self._outbox.append(wire.encode(message))
            self._wake.set()

    @property
    def overflowing(self) -> bool:
        return len(self._outbox) > MAX_OUTBOX_MESSAGES

    async def run_sender(self) -> None:
        ws = self._ws
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._acks:
                acks, self._acks = self._acks, []
                await ws.send_text(wire.encode(wire.Ack(acks)).decode())
            while self._outbox:
                await ws.send_text(self._outbox.popleft().decode())


async def driver_socket(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    token = presented_token(ws.headers, ws.query_params)
    await ws.accept()
    if token is None:
        await ws.close(CLOSE_UNAUTHORIZED, "missing driver token")
        return
    try:
        driver = await services.driver_for_token(token)
    except Exception as exc:
        log.warning("driver auth unavailable: %r", exc)
        await ws.close(CLOSE_TRY_AGAIN_LATER, "database unavailable, reconnect later")
        return
    if driver is None:
        await ws.close(CLOSE_UNAUTHORIZED, "invalid driver token")
        return

    session = DriverSession(ws)
    sender = asyncio.create_task(session.run_sender(), name=f"driver-{driver.id}-sender")
    metrics = services.metrics
    max_fixes = services.settings.max_fixes_per_message
    metrics.drivers_connected.inc()
    fleet = services.live.fleet
    fleet.add_driver(driver.id, driver.name, driver.vehicle)
    fleet.connected(driver.id, +1)
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            try:
                decoded = wire.decode_frame(data, max_fixes)
            except wire.FrameError as exc:
                metrics.frames_invalid.inc()
                session.send(wire.Error(str(exc)))
            else:
                for rejected in decoded.rejected:
                    metrics.fixes_rejected.labels("invalid").inc()
                    session.send(rejected)
                if decoded.fixes:
                    for rejected in await services.pipeline.ingest(driver, decoded.fixes, session):
                        session.send(rejected)
            if session.overflowing or sender.done():
                await ws.close(CLOSE_POLICY, "replies are not being read")
                break
    except WebSocketDisconnect:
        pass
    finally:
        session.closed = True
        sender.cancel()
        metrics.drivers_connected.dec()
        fleet.connected(driver.id, -1)
