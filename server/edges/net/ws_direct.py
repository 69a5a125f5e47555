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
  awaits `closed()`.
- `send_now(data)`: frame and write a text message at once. It never waits: the transport
  buffers what the kernel does not take. `writable` is False while that buffer is over the
  transport's high-water mark (the client is slow); `on_drained` is called when it is back
  under. `close_now(code, reason)` starts the closing handshake without waiting.
- smaller per-connection state: the handshake's request and response objects are dropped
  once accepted, and the ASGI queue and writable flag are single-waiter versions without
  deques (asyncio's cost ~800 bytes each, per socket).

Handlers get it with `direct_socket(ws)`; `server.serve.uvicorn_config` installs it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.exceptions import InvalidState
from websockets.protocol import SERVER, State

from server.base.stage_times import FRAMES
from server.wire.close_codes import CLOSE_INTERNAL_ERROR, CLOSE_INVALID_DATA

log = logging.getLogger("tracker.direct")

if TYPE_CHECKING:
    from server.edges.net.connections import Admission

SCOPE_KEY = "tracker.direct"
_NO_HEADERS = Headers()  # read by nothing once the handshake is answered

OnMessage = Callable[[bytes], None]

# A text frame's first byte (FIN, opcode 1), then the payload length: 7 bits, or 126 and
# 16 bits, or 127 and 64 bits (RFC 6455, 5.2); a server's frames carry no mask.
_FIN_TEXT = 0x81
_HEAD_16 = bytes((_FIN_TEXT, 126))
_HEAD_64 = bytes((_FIN_TEXT, 127))


class _Inbox:
    """The ASGI receive queue for one consumer: uvicorn's protocol only needs
    `put_nowait`, `get` and `empty`, and in direct mode it carries little more than the
    disconnect."""

    __slots__ = ("_closed", "_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        closed = self._closed
        if item["type"] == "websocket.disconnect" and closed is not None and not closed.done():
            closed.set_result(None)

    def closed(self) -> asyncio.Future[None]:
        """Done once a disconnect has been queued (a future, not a coroutine: a socket
        waits on it all its life, and each coroutine in that chain is an object per socket)."""
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
            if any(i["type"] == "websocket.disconnect" for i in self._items):
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


class _Flag:
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


class DirectSocket(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with a direct lane (see the module docs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inbox = _Inbox()
        self.queue = self._inbox  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]
        self.on_message: OnMessage | None = None
        self._context: contextvars.Context | None = None  # the listening task's
        self.on_drained: Callable[[], None] | None = None
        self.admission: Admission | None = None  # this connection's place in the limits
        self._spent: list[float] | None = None  # stage seconds, `frames` timed in (listen)
        self._delivering_s = 0.0

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
            try:
                data.decode()
            except UnicodeDecodeError:
                self.close_now(CLOSE_INVALID_DATA, "text frames must be UTF-8")
                return
        self._deliver(on_message, data)

    def data_received(self, data: bytes) -> None:
        spent = self._spent
        if spent is None:
            super().data_received(data)
            return
        self._delivering_s = 0.0
        started = perf_counter()
        super().data_received(data)
        spent[FRAMES] += perf_counter() - started - self._delivering_s

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
        size = len(data)
        if size < 126:
            head = bytes((_FIN_TEXT, size))
        elif size < 65536:
            head = _HEAD_16 + size.to_bytes(2, "big")
        else:
            head = _HEAD_64 + size.to_bytes(8, "big")
        self.transport.write(head + data)
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


def direct_socket(ws: WebSocket) -> DirectSocket:
    ref = ws.scope.get("extensions", {}).get(SCOPE_KEY)
    found = ref() if isinstance(ref, weakref.ref) else None
    if not isinstance(found, DirectSocket):
        raise RuntimeError(
            "WebSocket handlers need server.edges.net.ws_direct.DirectSocket as uvicorn's ws "
            "protocol: "
            "run the app with `tracker serve` (server.serve.uvicorn_config)"
        )
    return found
