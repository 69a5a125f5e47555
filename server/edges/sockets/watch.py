"""Watching sockets: `WS /ws/track/{code}` (a customer) and `WS /ws/fleet` (a dispatcher).

Both follow snapshot-then-deltas: subscribe first, then send a snapshot, then whatever the
subscriber's bounded queue yields, written as it comes (server/edges/net/ws_direct.py); a subscriber
that overflows or a client that stays too slow to read closes the socket (1013: reconnect
for a fresh snapshot). Publishers never wait on either.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

from server.base.auth import accepted_subprotocol, presented_token
from server.domain.lifecycle import CLOSED
from server.edges.guards import ROLES, client_address
from server.edges.net.ws_direct import DirectSocket, direct_socket
from server.edges.services import Services
from server.live.fleet import BBox, FleetClient
from server.store import orders as store
from server.transport.hub import ALERTS_TOPIC, order_topic
from server.transport.subscriber import Subscriber
from server.usecases import proof
from server.usecases.order_views import customer_view, link_expires_at
from server.usecases.tracking import lookup_tracked
from server.wire import jsonin
from server.wire.close_codes import (
    CLOSE_FORBIDDEN,
    CLOSE_RATE_LIMITED,
    CLOSE_UNAUTHORIZED,
    CLOSE_UNKNOWN_CODE,
)
from server.wire.close_codes import CLOSE_TRY_AGAIN_LATER as CLOSE_TOO_SLOW
from server.wire.courier import Error, encode
from server.wire.live import STATUS_PREFIX
from server.wire.orders import customer_snapshot

log = logging.getLogger("tracker.watch")

MAX_CLIENT_FRAME_BYTES = 4096


class _Feed:
    """Writes what a subscriber collects straight to its socket, inside the publisher's
    call: nothing is scheduled and nothing waits. While the client is slow (the transport's
    buffer over its high-water mark) messages stay with the subscriber, where positions
    conflate; a client still slow after `send_timeout_s`, or whose subscriber overflowed,
    is closed (1013: reconnect for a fresh snapshot)."""

    __slots__ = ("_leave", "_send_timeout_s", "_sock", "_stall", "_subscriber")

    def __init__(
        self,
        sock: DirectSocket,
        subscriber: Subscriber,
        send_timeout_s: float,
        leave: Callable[[], None],
    ) -> None:
        self._sock = sock
        self._subscriber = subscriber
        self._send_timeout_s = send_timeout_s
        self._stall: asyncio.TimerHandle | None = None
        self._leave: Callable[[], None] | None = leave  # unsubscribes, once the socket closed

    def kick(self) -> None:
        subscriber, sock = self._subscriber, self._sock
        if subscriber.overflowed:
            self.close(subscriber.reason)
        elif not sock.writable_now:
            if self._stall is None:
                loop = asyncio.get_running_loop()
                self._stall = loop.call_later(
                    self._send_timeout_s, self.close, "too slow to receive"
                )
        else:
            for data in subscriber.take_nowait():
                if not sock.send_now(data):
                    return

    def drained(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        self.kick()

    def close(self, reason: str) -> None:
        self.stop()
        self._subscriber.close()
        self._sock.close_now(CLOSE_TOO_SLOW, reason)

    def stop(self) -> None:
        self._subscriber.on_ready = None
        self._sock.on_drained = None
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def ended(self) -> None:
        """The socket closed (or was never served): stop, and leave the topic."""
        self.stop()
        self._subscriber.close()
        leave, self._leave = self._leave, None
        if leave is not None:
            leave()


class _StatusAt(msgspec.Struct):
    status: str
    at: datetime


_decode_status = jsonin.Decoder(msgspec.json.Decoder(_StatusAt)).decode  # rare: status only


class _TrackSubscriber(Subscriber):
    """A customer's subscriber that closes its socket when the tracking link expires.

    The link expires `link_ttl_s` after the order first closed. An open order's socket has
    no timer; one is set when the order is seen closed (at connect, or by the status
    message that closes it, which reaches every process's watchers through the hub) and
    cancelled when the socket closes. A later status never moves it."""

    __slots__ = ("_deadline_m", "_link_ttl_s", "_timer", "on_expired")

    def __init__(self, max_pending: int, link_ttl_s: float) -> None:
        super().__init__(max_pending)
        self._link_ttl_s = link_ttl_s
        self._deadline_m: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.on_expired: Callable[[], None] | None = None

    def expires(self, at: datetime | None) -> None:
        """The link expires at `at` (None: not closed yet); only ever brought forward."""
        if at is None or self.closed:
            return
        loop = asyncio.get_running_loop()
        deadline_m = loop.time() + (at - datetime.now(UTC)).total_seconds()
        if self._deadline_m is not None and self._deadline_m <= deadline_m:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._deadline_m = deadline_m
        self._timer = loop.call_at(deadline_m, self._expire)

    def offer(self, data: bytes, key: str | None = None) -> None:
        if key is None and data.startswith(STATUS_PREFIX) and not self.closed:
            if self._deadline_m is not None and asyncio.get_running_loop().time() >= (
                self._deadline_m
            ):
                self._expire()  # its timer is due but has not run yet: nothing more goes out
                return
            status = _decode_status(data)
            if status.status in CLOSED:
                self.expires(status.at + timedelta(seconds=self._link_ttl_s))
        super().offer(data, key)

    def _expire(self) -> None:
        self._timer = None
        on_expired = self.on_expired
        self.close()
        if on_expired is not None:
            on_expired()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.on_expired = None
        super().close()


def _ignore(data: bytes) -> None:
    return None


async def _serve(
    ws: WebSocket,
    subscriber: Subscriber,
    first: bytes | Awaitable[bytes],
    services: Services,
    leave: Callable[[], None],
    on_message: Callable[[bytes], None] = _ignore,
) -> None:
    """Send the snapshot (made here when given as an awaitable, so that no caller's local
    keeps it), then whatever the subscriber collects, as it comes; hand the client's frames
    to `on_message`; once the socket closes, close the subscriber and call `leave`.

    It returns once the socket is served, and the socket is parked (DirectSocket.park): no
    task waits for it, and what an idle socket holds is its protocol, subscriber and feed
    (thousands of idle sockets must stay cheap). Should it raise, it has left already."""
    sock = direct_socket(ws)
    feed = _Feed(sock, subscriber, services.settings.ws_send_timeout_s, leave)
    try:
        sock.send_now(first if isinstance(first, bytes) else await first)
    except BaseException:
        feed.ended()
        raise
    subscriber.on_ready = feed.kick
    sock.on_drained = feed.drained
    sock.listen(on_message)
    feed.kick()  # what arrived while the snapshot was being made
    sock.park(feed.ended)


async def track_socket(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    client = client_address(ws)
    await ws.accept(accepted_subprotocol(ws.scope.get("subprotocols", [])))
    order, retry_after_s = await lookup_tracked(services, client, ws.path_params["code"])
    if retry_after_s > 0:
        await ws.close(
            CLOSE_RATE_LIMITED, f"too many tracking lookups; retry in {int(retry_after_s) + 1} s"
        )
        return
    if order is None:
        await ws.close(CLOSE_UNKNOWN_CODE, "unknown or expired tracking code")
        return
    settings = services.settings
    subscriber = _TrackSubscriber(settings.subscriber_max_pending, settings.tracking_link_ttl_s)
    sock = direct_socket(ws)
    subscriber.on_expired = lambda: sock.close_now(CLOSE_UNKNOWN_CODE, "tracking link expired")
    topic = order_topic(order.id)
    hub = services.live.hub
    hub.subscribe(topic, subscriber)  # before the snapshot: nothing falls between
    leave = functools.partial(hub.unsubscribe, topic, subscriber)
    try:
        await hub.ready(topic)  # other processes' messages reach us too
    except BaseException:
        subscriber.close()
        leave()
        raise
    # Run by _serve: no local keeps it, nor the order (a socket lives long).
    snapshot = _customer_snapshot(services, order, subscriber)
    del order
    with contextlib.suppress(WebSocketDisconnect):
        await _serve(ws, subscriber, snapshot, services, leave)


async def _customer_snapshot(
    services: Services, order: store.Order, subscriber: _TrackSubscriber
) -> bytes:
    found = await services.tracked.order(order.id)  # read after subscribing: misses nothing
    fresh, timeline = (order, []) if found is None else (found.order, found.timeline)
    has_photo = found is not None and found.has_photo
    photo_url = proof.customer_photo_url(fresh, has_photo, services.settings)
    # Closed before the subscription took (its status message missed): expire from here.
    subscriber.expires(link_expires_at(fresh, services.settings))
    return customer_snapshot(
        customer_view(fresh, timeline, services.live, services.settings, photo_url)
    )


class _Viewport(msgspec.Struct, tag="viewport", tag_field="type"):
    bbox: Annotated[list[float], msgspec.Meta(min_length=4, max_length=4)] | None = None


_decode_viewport = jsonin.Decoder(msgspec.json.Decoder(_Viewport)).decode


def _bbox(viewport: _Viewport) -> BBox | None:
    if viewport.bbox is None:
        return None
    west, south, east, north = viewport.bbox
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise ValueError("bbox must be [west, south, east, north] in degrees")
    return (west, south, east, north)


async def fleet_socket(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    subprotocols = ws.scope.get("subprotocols", [])
    key = presented_token(ws.headers, ws.query_params, subprotocols)
    await ws.accept(accepted_subprotocol(subprotocols))
    sockets = services.sockets
    heard = sockets.heard
    caller = None if key is None else await services.caller_for_key(key)
    courier = caller is None and key is not None and await services.driver_for_token(key)
    del key  # a socket lives long: its credential is not kept
    if caller is None:
        if courier:
            await ws.close(CLOSE_FORBIDDEN, "a courier's token cannot watch the fleet")
        else:
            await ws.close(CLOSE_UNAUTHORIZED, "missing or unknown dispatcher key")
        return
    if ROLES.index(caller.role) < ROLES.index("dispatcher"):  # support: orders, no positions
        await ws.close(CLOSE_FORBIDDEN, "this key may not watch the fleet (needs dispatcher)")
        return
    key_id = caller.key_id  # None: the bootstrap admin token, which cannot be revoked
    fleet = services.live.fleet
    client = FleetClient(Subscriber(services.settings.subscriber_max_pending))

    def on_message(data: bytes) -> None:
        if len(data) > MAX_CLIENT_FRAME_BYTES:
            client.subscriber.offer(encode(Error("frame too large")))
            return
        try:
            client.bbox = _bbox(_decode_viewport(data))
        except (msgspec.DecodeError, ValueError) as exc:
            reason = f'expected {{"type":"viewport","bbox":[w,s,e,n]}}: {exc}'
            client.subscriber.offer(encode(Error(reason)))
            return
        client.subscriber.offer(fleet.snapshot_message(client))  # what is now in view

    hub = services.live.hub
    hub.subscribe(ALERTS_TOPIC, client.subscriber)
    fleet.clients.add(client)
    sock = direct_socket(ws)
    if key_id is not None:  # closed (4401) when the key is revoked
        sockets.add_key(key_id, sock)
        if sockets.heard != heard:  # a revocation passed while the key was looked up
            sockets.check_soon(key_ids=[key_id])

    def leave() -> None:
        if key_id is not None:
            sockets.remove_key(key_id, sock)
        fleet.clients.discard(client)
        hub.unsubscribe(ALERTS_TOPIC, client.subscriber)

    try:
        await hub.ready(ALERTS_TOPIC)
        snapshot = fleet.snapshot_message(client)
    except BaseException:
        leave()
        raise
    with contextlib.suppress(WebSocketDisconnect):
        await _serve(ws, client.subscriber, snapshot, services, leave, on_message)
