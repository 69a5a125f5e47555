"""`WS /ws/driver`: courier fixes in, acks after commit, rejections and errors out; the
courier's run out (on connect and on every change, from the driver's topic wherever the
change happened); courier actions in, answered with their results; messages from dispatch
out (courier_feed.py).

Frames come to `DriverSession.on_frame` as they are parsed (server/edges/net/ws_direct.py) and go
through the pipeline in that same call; acks go out the moment the writer reports the
commit. Nothing is scheduled per frame. When storage is behind (or this driver's state is
still loading) the session stops reading the socket (backpressure) and one task feeds the
waiting frames through in order, then reads again. A bad frame never closes the
connection; a client that does not read its replies while sending more does.

Actions (`{"type":"action",...}`) need the database: one task per session does them in
the order they came, at most MAX_ACTIONS_WAITING waiting; fixes are not held up by them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import UTC, datetime
from time import perf_counter

from starlette.websockets import WebSocket

from server.base import stage_times
from server.base.auth import accepted_subprotocol, hash_token, presented_token
from server.base.dbguard import DatabaseUnavailable
from server.edges.net.ws_direct import DirectSocket, direct_socket
from server.edges.services import Services
from server.edges.sockets.courier_feed import CourierFeed
from server.store.queries import Driver
from server.transport.hub import driver_topic
from server.transport.subscriber import Subscriber
from server.usecases import courier_actions
from server.wire import courier as wire
from server.wire import jsonin
from server.wire.close_codes import (
    CLOSE_FORBIDDEN,
    CLOSE_INTERNAL_ERROR,
    CLOSE_POLICY,
    CLOSE_UNAUTHORIZED,
)
from server.wire.courier_actions import ActionMessage, ActionResult
from server.wire.courier_actions import encode as encode_action

log = logging.getLogger("tracker.ingest")

# Replies the client has not read, beyond what the kernel took: past this it is not
# reading them, and everything it sends only adds to them.
MAX_UNREAD_REPLY_BYTES = 1 << 20
MAX_ACTIONS_WAITING = 32  # beyond: answered "resend later", not queued


class RunSubscriber(Subscriber):
    """The courier's run feed. Runs conflate (one key), so it cannot fall behind; a gap
    (the bus between processes was down) is mended by sending the run afresh, not by
    closing the courier's socket, which carries their fixes."""

    __slots__ = ("stale",)

    def __init__(self, max_pending: int) -> None:
        super().__init__(max_pending)
        self.stale = False

    def interrupt(self, reason: str) -> None:
        if self.closed:
            return
        self.stale = True
        self.take_nowait()
        if self.on_ready is not None:
            self.on_ready()


class DriverSession:
    """One courier connection: frames in, replies out; the writer's sink for its fixes."""

    __slots__ = (
        "_acting",
        "_actions",
        "_backlog",
        "_catching_up",
        "_driver",
        "_services",
        "_sock",
    )

    def __init__(self, sock: DirectSocket, driver: Driver, services: Services) -> None:
        self._sock = sock
        self._driver = driver
        self._services = services
        self._backlog: deque[wire.Decoded] | None = None  # frames waiting for storage room
        self._catching_up: asyncio.Task[None] | None = None
        self._actions: deque[ActionMessage] = deque()
        self._acting: asyncio.Task[None] | None = None

    # StoreSink
    def stored(self, seqs: list[int]) -> None:
        started = perf_counter()
        self._send(wire.Ack(seqs))
        self._services.metrics.stages.seconds[stage_times.ACK] += perf_counter() - started

    def failed(self, seq: int, reason: str) -> None:
        self._send(wire.Rejected(seq, reason))

    def _send(self, message: wire.Ack | wire.Rejected | wire.Error) -> None:
        self.send_encoded(wire.encode(message))

    def send_encoded(self, data: bytes) -> None:
        sock = self._sock
        if sock.send_now(data) and sock.unsent_bytes > MAX_UNREAD_REPLY_BYTES:
            sock.close_now(CLOSE_POLICY, "replies are not being read")

    def forward(self, subscriber: RunSubscriber) -> None:
        """What the driver's topic collected (their run, the newest only) to the socket; the
        run afresh from live state when the feed may have missed some."""
        if subscriber.stale:
            subscriber.stale = False
            subscriber.take_nowait()
            self.send_encoded(self._services.live.courier_runs.message(self._driver.id))
            return
        for data in subscriber.take_nowait():
            self.send_encoded(data)

    def on_frame(self, data: bytes) -> None:
        services = self._services
        started = perf_counter()
        try:
            decoded = wire.decode_frame(data, services.settings.max_fixes_per_message)
        except wire.FrameError as exc:
            services.metrics.frames_invalid.inc()
            self._send(wire.Error(str(exc)))
            return
        except Exception:  # a decoding bug: this frame is refused, the connection stays
            log.exception("courier %d: frame not decoded: %r", self._driver.id, data[:200])
            services.metrics.frames_invalid.inc()
            self._send(wire.Error("frame could not be read; fix it or drop it"))
            return
        services.metrics.stages.seconds[stage_times.DECODE] += perf_counter() - started
        if decoded.action is not None or decoded.bad_action is not None:
            self._on_action(decoded)
            return
        if self._backlog is None:
            fixes = decoded.fixes
            rejected = services.pipeline.ingest_now(self._driver, fixes, self) if fixes else []
            if rejected is not None:
                self._reject_invalid(decoded)
                for each in rejected:
                    self._send(each)
                return
        # Storage is behind, or this driver's state is loading: stop reading and let one
        # task feed the waiting frames through in order.
        if self._backlog is None:
            self._backlog = deque()
            self._sock.pause_reading()
            self._catching_up = asyncio.get_running_loop().create_task(self._catch_up())
        self._backlog.append(decoded)

    async def _catch_up(self) -> None:
        backlog = self._backlog
        pipeline = self._services.pipeline
        try:
            while backlog:
                decoded = backlog.popleft()
                self._reject_invalid(decoded)
                if decoded.fixes:
                    for rejected in await pipeline.ingest(self._driver, decoded.fixes, self):
                        self._send(rejected)
        except Exception:  # a bug, not the courier's doing: it reconnects and resends
            log.exception("courier %d: ingest failed", self._driver.id)
            self._sock.close_now(CLOSE_INTERNAL_ERROR, "internal error, reconnect")
            return
        self._backlog = None
        self._catching_up = None  # a finished task kept per courier is an object per courier
        self._sock.resume_reading()

    def _reject_invalid(self, decoded: wire.Decoded) -> None:
        for rejected in decoded.rejected:
            self._services.metrics.fixes_rejected.labels("invalid").inc()
            self._send(rejected)

    def _on_action(self, decoded: wire.Decoded) -> None:
        if decoded.bad_action is not None:
            key, reason = decoded.bad_action
            self.send_encoded(encode_action(ActionResult(key, False, code=422, error=reason)))
            return
        assert decoded.action is not None
        if len(self._actions) >= MAX_ACTIONS_WAITING:
            refused = ActionResult(
                decoded.action.id, False, code=429, error="too many actions waiting; resend later"
            )
            self.send_encoded(encode_action(refused))
            return
        self._actions.append(decoded.action)
        if self._acting is None:
            self._acting = asyncio.get_running_loop().create_task(self._act())

    async def _act(self) -> None:
        while self._actions:
            result = await self._perform(self._actions.popleft())
            self.send_encoded(encode_action(result))
        self._acting = None

    async def _perform(self, message: ActionMessage) -> ActionResult:
        """The action done (once per id), or why not."""
        bad = jsonin.control_char_path(message)
        if bad is not None:
            return ActionResult(
                message.id, False, code=422, error=f"{bad} holds a control character"
            )
        try:
            action = courier_actions.check(
                message.order_id, message.status, message.reason, message.note
            )
            # Shielded: a socket closing mid-action must not part its commit from telling
            # live state (the action completes; the courier's resend finds it stored).
            done = await asyncio.shield(
                courier_actions.perform(
                    self._services, self._driver, message.id, action, datetime.now(UTC)
                )
            )
        except courier_actions.Refused as exc:
            return ActionResult(
                message.id, False, code=exc.code, error=str(exc), allowed=exc.allowed
            )
        except DatabaseUnavailable:
            return ActionResult(message.id, False, code=503, error="storage unavailable; resend")
        except Exception:  # a bug: nothing was stored (one transaction); the courier resends
            log.exception("courier %d: action %r failed", self._driver.id, message)
            return ActionResult(message.id, False, code=500, error="internal error; resend")
        return ActionResult(message.id, True, done)

    def stop(self) -> None:
        if self._catching_up is not None:
            self._catching_up.cancel()
            self._catching_up = None  # its CancelledError's traceback holds this session
        if self._acting is not None:
            self._acting.cancel()
            self._acting = None


async def driver_socket(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    subprotocols = ws.scope.get("subprotocols", [])
    token = presented_token(ws.headers, ws.query_params, subprotocols)
    await ws.accept(accepted_subprotocol(subprotocols))
    if token is None:
        await ws.close(CLOSE_UNAUTHORIZED, "missing driver token")
        return
    sockets = services.sockets
    heard = sockets.heard
    # The database away: DatabaseUnavailable, closed with 1013 (edges/net/socket_dispatch.py).
    driver = await services.driver_for_token(token)
    api_key = driver is None and await services.caller_for_key(token) is not None
    if driver is None:
        if api_key:
            await ws.close(CLOSE_FORBIDDEN, "an API key is not a driver token")
        else:
            await ws.close(CLOSE_UNAUTHORIZED, "invalid driver token")
        return

    sock = direct_socket(ws)
    sockets.add_driver(driver.id, hash_token(token), sock)  # closed when the token changes
    if sockets.heard != heard:  # a revocation passed while the token was looked up
        sockets.check_soon(driver_ids=[driver.id])
    del token
    session = DriverSession(sock, driver, services)
    metrics = services.metrics
    metrics.drivers_connected.inc()
    live = services.live
    fleet = live.fleet
    fleet.add_driver(driver.id, driver.name, driver.vehicle)
    fleet.connected(driver.id, +1)
    feed = CourierFeed(sock, driver.id, services)  # messages from dispatch
    # The run: subscribed first, so no change falls between the first run and the next.
    topic = driver_topic(driver.id)
    runs = RunSubscriber(services.settings.subscriber_max_pending)
    live.hub.subscribe(topic, runs)
    try:
        await live.hub.ready(topic)  # changes committed on other processes reach us too
        runs.take_nowait()  # older than (or as new as) the run sent now
        session.send_encoded(live.courier_runs.message(driver.id))
        runs.on_ready = lambda: session.forward(runs)
        sock.listen(session.on_frame, services.metrics.stages.seconds)  # frames: a stage
        await feed.start()
        await sock.closed()
    finally:
        feed.stop()
        runs.on_ready = None  # it holds the session (and the socket): no cycle outlives it
        runs.close()
        live.hub.unsubscribe(topic, runs)
        session.stop()
        sockets.remove_driver(driver.id, sock)
        metrics.drivers_connected.dec()
        fleet.connected(driver.id, -1)
