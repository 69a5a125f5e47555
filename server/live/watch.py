"""Watching sockets: `WS /ws/track/{code}` (a customer) and `WS /ws/fleet` (a dispatcher).

Both follow snapshot-then-deltas: subscribe first, then send a snapshot, then whatever the
subscriber's bounded queue yields. Each socket has one pump task that sends with a
timeout; a subscriber that overflows or a send that times out closes the socket (1013:
reconnect for a fresh snapshot). Publishers never wait on either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Annotated

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

from server.auth import presented_token
from server.live.fleet import BBox, FleetClient
from server.live.hub import ALERTS_TOPIC, order_topic
from server.live.subscriber import Subscriber
from server.orders.api import lookup_tracked
from server.orders.views import customer_view
from server.services import Services
from server.store import orders as store

log = logging.getLogger("tracker.watch")

CLOSE_UNAUTHORIZED = 4401
CLOSE_UNKNOWN_CODE = 4404
CLOSE_RATE_LIMITED = 4429
CLOSE_TOO_SLOW = 1013
MAX_CLIENT_FRAME_BYTES = 4096
CLOSE_TIMEOUT_S = 1.0
_encode = msgspec.json.Encoder().encode


class _Pump:
    """Sends what a subscriber collects. Runs only while there is something to send (an
    idle socket holds no task for it); closes the socket (1013) when the subscriber
    overflowed or a send stayed blocked for `send_timeout_s`."""

    __slots__ = ("_send_timeout_s", "_subscriber", "_ws", "task")

    def __init__(self, ws: WebSocket, subscriber: Subscriber, send_timeout_s: float) -> None:
        self._ws = ws
        self._subscriber = subscriber
        self._send_timeout_s = send_timeout_s
        self.task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        subscriber = self._subscriber
        try:
            while not subscriber.overflowed:
                messages = subscriber.take_nowait()
                if not messages:
                    return  # sent everything, or the client left
                async with asyncio.timeout(self._send_timeout_s):
                    for data in messages:
                        await self._ws.send_text(data.decode())
            reason = subscriber.reason
        except (TimeoutError, OSError, RuntimeError, WebSocketDisconnect):
            reason = "too slow to receive"
        subscriber.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):  # its buffer may be full
                await self._ws.close(CLOSE_TOO_SLOW, reason)


async def _serve(
    ws: WebSocket,
    subscriber: Subscriber,
    first: bytes,
    services: Services,
    on_message: Callable[[str | bytes], None] | None = None,
) -> None:
    """Send the snapshot, then whatever the subscriber collects; read the client's frames
    here until it leaves. One task per idle socket: thousands of them must stay cheap."""
    await ws.send_text(first.decode())
    pump = _Pump(ws, subscriber, services.settings.ws_send_timeout_s)
    subscriber.on_ready = pump.kick
    pump.kick()  # what arrived while the snapshot was being made
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if on_message is not None:
                on_message(message.get("text") or message.get("bytes") or b"")
    finally:
        subscriber.on_ready = None
        subscriber.close()
        if pump.task is not None:
            pump.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump.task


async def track_socket(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    client = ws.client.host if ws.client else "unknown"
    await ws.accept()
    order, retry_after_s = await lookup_tracked(services, client, ws.path_params["code"])
    if retry_after_s > 0:
        await ws.close(
            CLOSE_RATE_LIMITED, f"too many tracking lookups; retry in {int(retry_after_s) + 1} s"
        )
        return
    if order is None:
        await ws.close(CLOSE_UNKNOWN_CODE, "unknown or expired tracking code")
        return
    subscriber = Subscriber(services.settings.subscriber_max_pending)
    topic = order_topic(order.id)
    hub = services.live.hub
    hub.subscribe(topic, subscriber)  # before the snapshot: nothing falls between
    try:
        await hub.ready(topic)  # other processes' messages reach us too
        async with services.pool.acquire() as conn:
            fresh = await store.get_order(conn, order.id) or order
            timeline = await store.timeline(conn, order.id)
        snapshot = {
            "type": "snapshot",
            **customer_view(fresh, timeline, services.live, services.settings),
        }
        await _serve(ws, subscriber, _encode(snapshot), services)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(topic, subscriber)


class _Viewport(msgspec.Struct, tag="viewport", tag_field="type"):
    bbox: Annotated[list[float], msgspec.Meta(min_length=4, max_length=4)] | None = None


_decode_viewport = msgspec.json.Decoder(_Viewport).decode


def _bbox(viewport: _Viewport) -> BBox | None:
    if viewport.bbox is None:
        return None
    west, south, east, north = viewport.bbox
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise ValueError("bbox must be [west, south, east, north] in degrees")
    return (west, south, east, north)


async def fleet_socket(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    key = presented_token(ws.headers, ws.query_params)
    await ws.accept()
    caller = None if key is None else await services.caller_for_key(key)
    if caller is None:
        await ws.close(CLOSE_UNAUTHORIZED, "missing or unknown dispatcher key")
        return
    fleet = services.live.fleet
    client = FleetClient(Subscriber(services.settings.subscriber_max_pending))

    def on_message(data: str | bytes) -> None:
        if len(data) > MAX_CLIENT_FRAME_BYTES:
            client.subscriber.offer(_encode({"type": "error", "reason": "frame too large"}))
            return
        try:
            client.bbox = _bbox(_decode_viewport(data))
        except (msgspec.DecodeError, ValueError) as exc:
            reason = f'expected {{"type":"viewport","bbox":[w,s,e,n]}}: {exc}'
            client.subscriber.offer(_encode({"type": "error", "reason": reason}))
            return
        client.subscriber.offer(fleet.snapshot_message(client))  # what is now in view

    hub = services.live.hub
    hub.subscribe(ALERTS_TOPIC, client.subscriber)
    fleet.clients.add(client)
    try:
        await hub.ready(ALERTS_TOPIC)
        await _serve(ws, client.subscriber, fleet.snapshot_message(client), services, on_message)
    except WebSocketDisconnect:
        pass
    finally:
        fleet.clients.discard(client)
        hub.unsubscribe(ALERTS_TOPIC, client.subscriber)
