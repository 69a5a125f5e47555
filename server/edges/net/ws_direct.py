"""A direct lane for the app's WebSocket hot path, under uvicorn.

uvicorn speaks ASGI: each received frame becomes a dict on an asyncio.Queue, reading pauses
until the app's task wakes up and takes it (two epoll changes per frame), and each sent
frame is an awaited call through Starlette and uvicorn. With thousands of sockets sending
a frame a second each, that bookkeeping costs more than the work itself. `DirectSocket` is
uvicorn's sans-I/O `websockets` protocol (uvicorn is pinned; tests cover every use below)
with a lane the socket handlers switch to once a connection is accepted:

- `listen(on_message)`: whole messages (text or binary, as bytes) go to a plain callback on
  the event loop as soon as they are parsed, run in the context of the task that called
  `listen` (so their log lines carry the socket's request id); the handler's task only
  awaits `closed()`. Whole, final, masked text frames (a courier's fix each) are taken
  from the bytes read without websockets' parser (ws_frames.py); anything else, and what
  follows it, goes through the parser as before.
- `send_now(data)`: frame and write a text message at once. It never waits: the transport
  buffers what the kernel does not take. `writable` is False while that buffer is over the
  transport's high-water mark (the client is slow); `on_drained` is called when it is back
  under. `close_now(code, reason)` starts the closing handshake without waiting.
- `park(on_closed)`: the handler's task may end while the socket stays open; `on_closed`
  (and what `after_close` adds) runs once it closes. A watching socket is mostly idle for
  hours: a task and its coroutine frames were ~3 KB of each one's ~11 KB.
- smaller per-connection state: the handshake's request and response objects are dropped
  once accepted (the ASGI scope once parked), the ASGI queue and writable flag are
  single-waiter versions without deques (ws_waits.py; asyncio's cost ~800 bytes each),
  the protocol's attributes are slots, and keepalive pings and pong deadlines share a
  timer per half second instead of a timer each (ws_keepalive.py).

Handlers get it with `direct_socket(ws)`; `server.serve.uvicorn_config` installs it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
import weakref
from collections.abc import Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket
from uvicorn.protocols.utils import ClientDisconnected
from websockets.datastructures import Headers
from websockets.exceptions import InvalidState
from websockets.protocol import SERVER, State

from server.base.stage_times import FRAMES
from server.edges.net.ws_frames import text_head, whole_text_frames
from server.edges.net.ws_keepalive import CoarseKeepalive
from server.edges.net.ws_waits import Flag, Inbox
from server.wire.close_codes import CLOSE_INTERNAL_ERROR, CLOSE_INVALID_DATA

log = logging.getLogger("tracker.direct")

if TYPE_CHECKING:
    from server.edges.net.connections import Admission

SCOPE_KEY = "tracker.direct"
_NO_HEADERS = Headers()  # read by nothing once the handshake is answered
_NO_ID = uuid.UUID(int=0)

OnMessage = Callable[[bytes], None]

# Every attribute uvicorn's protocol sets, and ours: with more than 30 attributes an
# instance's __dict__ stops sharing its keys and costs ~2 KB per socket; slots cost 8 bytes
# each. (An attribute a later uvicorn adds still works: it lands in the __dict__.)
_UVICORN_SLOTS = (  # noqa: SIM905 (a tuple of 37 names, one a line, is longer to read)
    "app app_state asgi_version client close_sent close_timeout close_timer config conn "
    "connections curr_msg_data_type default_headers disconnected frames handshake_complete "
    "handshake_initiated initial_response last_ping_rtt logger loop pending_ping_payload "
    "ping_interval ping_sent_at ping_timeout ping_timer pong_timer queue read_paused request "
    "response root_path scheme scope server tasks transport writable"
).split()


class DirectSocket(CoarseKeepalive):
    """uvicorn's sans-I/O WebSocket protocol with a direct lane (see the module docs)."""

    __slots__ = (
        *_UVICORN_SLOTS,
        "_context",
        "_delivering_s",
        "_inbox",
        "_on_closed",
        "_spent",
        "admission",
        "on_drained",
        "on_message",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inbox = Inbox()
        self.queue = self._inbox  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]
        self.on_message: OnMessage | None = None
        self._context: contextvars.Context | None = None  # the listening task's
        self.on_drained: Callable[[], None] | None = None
        self.admission: Admission | None = None  # this connection's place in the limits
        self._spent: list[float] | None = None  # stage seconds, `frames` timed in (listen)
        self._delivering_s = 0.0
        self._on_closed: list[Callable[[], None]] | None = None  # parked: see `park`
        self.conn.id = _NO_ID  # a uuid4 per connection, for websockets' own debug logs

    # Handshake: the app finds us in its scope; the request is not kept past it.
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # weakly: the protocol holds the scope, no cycle back
            scope["extensions"][SCOPE_KEY] = weakref.ref(self)
        self.request = None  # type: ignore[assignment]
        # websockets' parser generator keeps the handshake request in a local for the
        # connection's whole life; its headers (~1.9 KB per socket) are in the scope now.
        event.headers = _NO_HEADERS

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            self.response = None  # type: ignore[assignment]  # only the accept needed it

    # Receiving
    def listen(self, on_message: OnMessage, spent: list[float] | None = None) -> None:
        """From now on, messages go to `on_message` (those already queued first).
        With `spent` (server/base/stage_times.py), the time reading and framing takes,
        less `on_message`'s, is added to its `frames` stage.

        The handshake's headers are emptied here (a socket lives for hours, its headers
        are ~1 KB): a handler reads what it needs from them (token, client address,
        request id) before it listens."""
        self.on_message = on_message
        self._spent = spent
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["headers"].clear()  # in place: Starlette's cached Headers shares the list
        self._context = contextvars.copy_context()
        for data in self._inbox.take_messages():
            self._deliver(on_message, data)
        if self.disconnected:  # the peer left before the handler got here: connection_lost
            self.on_message = None  # has run, and nothing else would break this cycle
            return
        self.resume_reading()  # uvicorn pauses reading after each message it queues

    def send_receive_event_to_app(self) -> None:
        on_message = self.on_message
        if on_message is None:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return
        data = bytes(data)
        if self.curr_msg_data_type == "text":
            self._deliver_text(on_message, data)
        else:
            self._deliver(on_message, data)

    def _deliver_text(self, on_message: OnMessage, data: bytes) -> bool:
        """Deliver a text message, or close (1007) if it is not UTF-8; False then."""
        try:
            data.decode()
        except UnicodeDecodeError:
            self.close_now(CLOSE_INVALID_DATA, "text frames must be UTF-8")
            return False
        self._deliver(on_message, data)
        return True

    def data_received(self, data: bytes) -> None:
        spent = self._spent
        self._delivering_s = 0.0
        started = perf_counter()
        if self.on_message is not None:
            data = self._take_text_frames(data)
        if data:
            super().data_received(data)
        if spent is not None:
            spent[FRAMES] += perf_counter() - started - self._delivering_s

    def _take_text_frames(self, data: bytes) -> bytes:
        """Deliver the whole text messages at the front of `data` (ws_frames.py) without
        websockets' parser, when it holds nothing of an earlier frame and expects no
        fragment; returns what is left, for it."""
        conn = self.conn
        on_message = self.on_message
        if (
            on_message is None
            or self.close_sent
            or conn.state is not State.OPEN
            or conn.reader.buffer
            or conn.expect_continuation_frame
            or conn.extensions
        ):
            return data
        max_size = conn.max_message_size
        if conn.max_fragment_size is not None:
            max_size = min(max_size or conn.max_fragment_size, conn.max_fragment_size)
        messages, used = whole_text_frames(data, max_size)
        for message in messages:
            if self.close_sent or not self._deliver_text(on_message, message):
                break  # as in send_receive_event_to_app: read, not delivered
        return data[used:] if used else data

    def _deliver(self, on_message: OnMessage, data: bytes) -> None:
        """A handler's bug must not escape into the protocol, which would abort the
        transport without a close frame: the client gets 1011 and reconnects."""
        started = perf_counter()
        try:
            self._call(on_message, data)
        finally:
            self._delivering_s += perf_counter() - started

    def _call(self, on_message: OnMessage, data: bytes) -> None:
        try:
            if self._context is None:
                on_message(data)
            else:
                self._context.run(on_message, data)
        except Exception:
            log.exception("socket handler failed on a message: %r", data[:200])
            self.close_now(CLOSE_INTERNAL_ERROR, "internal error, reconnect")

    def pause_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    def closed(self) -> asyncio.Future[None]:
        """Done when the connection is over (the peer left, or a close was sent)."""
        return self._inbox.closed()

    # Parking: an open socket that needs no task of its own.
    def park(self, on_closed: Callable[[], None]) -> None:
        """Let the handler's task end with the socket open: an idle socket then holds no
        task, coroutine frames or ASGI scope (~3 KB). `on_closed` is called once the
        connection is over (as `closed()` completes), in the listening task's context,
        like every further callback added with `after_close`. Call it after `listen`."""
        self._on_closed = [on_closed]
        self.scope = None  # type: ignore[assignment]  # the app's; uvicorn needs it no more
        if self._inbox.disconnected:
            self._closed_now()
        else:
            self._inbox.on_disconnect = self._closed_now

    def after_close(self, callback: Callable[[], None]) -> bool:
        """Parked and not yet closed: call `callback` too once the connection is over
        (True); else False."""
        if self._on_closed is None:
            return False
        self._on_closed.append(callback)
        return True

    def _closed_now(self) -> None:
        # Soon, not now: the disconnect can come from inside a publisher's loop over the
        # topic's subscribers, which these callbacks change.
        self.loop.call_soon(self._run_on_closed, context=self._context)

    def _run_on_closed(self) -> None:
        callbacks, self._on_closed = self._on_closed or [], None
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("a closed socket's callback failed")

    async def run_asgi(self) -> None:
        """uvicorn's, except that a parked socket stays open when the app returns."""
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self.send_500_response()
        else:
            if not self.handshake_complete:
                self.logger.error("ASGI callable returned without completing handshake.")
                self.send_500_response()
            elif result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self.close_timer is None and self._on_closed is None:
            self.transport.close()

    # Sending
    @property
    def writable_now(self) -> bool:
        return self.writable.is_set()

    @property
    def unsent_bytes(self) -> int:
        """What the kernel has not taken yet (the transport's buffer)."""
        size: int = self.transport.get_write_buffer_size()
        return size

    @property
    def open(self) -> bool:
        return self.handshake_complete and not self.close_sent and not self.disconnected

    def send_now(self, data: bytes) -> bool:
        """Frame and write a text message now; False if the connection is closing.

        The frame's header is made here (a server's frames are unmasked, and no extension
        is negotiated: per-message deflate is off, server/serve.py), not by websockets'
        `send_text`, whose Frame object and serialisation cost more than the header: every
        ack and every customer's position is one. Anything websockets queued to send
        (a pong) goes first."""
        if not self.open or self.transport.is_closing():
            return False
        conn = self.conn
        if conn.extensions or conn.expect_continuation_frame or conn.side is not SERVER:
            return self._send_framed(data)
        if conn.state is not State.OPEN:  # the peer's close arrived first
            return False
        if conn.writes:
            self.transport.write(b"".join(conn.data_to_send()))
        self.transport.write(text_head(len(data)) + data)
        return True

    def _send_framed(self, data: bytes) -> bool:
        try:
            self.conn.send_text(data)
        except InvalidState:  # the peer's close arrived first
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True

    def close_now(self, code: int, reason: str = "") -> None:
        """Start the closing handshake (what `websocket.close` does), without waiting."""
        if not self.open or self.transport.is_closing():
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.resume_reading()  # to read the peer's close reply
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.on_drained is not None:
            self.on_drained()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.admission is not None:
            self.admission.release()
            self.admission = None
        # A handler's callbacks hold its session, which holds this socket.
        self.on_message = None
        self.on_drained = None
        self._context = None
        # The parser is a generator holding its protocol: a reference cycle that only the
        # cyclic collector would free. Broken here, a closed connection goes at once.
        self.conn.parser = None  # type: ignore[assignment]


def found_socket(ws: WebSocket) -> DirectSocket | None:
    ref = ws.scope.get("extensions", {}).get(SCOPE_KEY)
    found = ref() if isinstance(ref, weakref.ref) else None
    return found if isinstance(found, DirectSocket) else None


def direct_socket(ws: WebSocket) -> DirectSocket:
    found = found_socket(ws)
    if found is None:
        raise RuntimeError(
            "WebSocket handlers need server.edges.net.ws_direct.DirectSocket as uvicorn's ws "
            "protocol: "
            "run the app with `tracker serve` (server.serve.uvicorn_config)"
        )
    return found
