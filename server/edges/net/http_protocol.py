"""uvicorn's HTTP protocol (httptools) with a gate in front: connection limits, a deadline
for each request's head, and nothing left behind for the cyclic collector on upgrade.

- Limits: each TCP connection is admitted by the server's `Connections` registry
  (server/edges/net/connections.py) before a byte is read. Over a limit it gets `503` with a JSON
  `{"error": …}` and `Connection: close` at once; the server then stops sending and drops
  whatever the client sends until it hangs up (at most `REFUSAL_LINGER_S`): closing on
  unread data would reset the connection, and a reset can destroy the answer before the
  client reads it. An upgraded connection stays counted until its WebSocket closes.
- No Nagle: every accepted TCP socket gets TCP_NODELAY. The event loop sets it only when
  it knows the listener to be TCP: not behind `--fd` (uvicorn wraps that socket as a Unix
  one), nor with asyncio's loop on a socket made without naming IPPROTO_TCP (the test
  harness's). Without it a small write behind an unacknowledged one waits for the peer's
  delayed ACK (~40 ms).
- Head deadline: uvicorn's keep-alive timeout only covers a connection idle between
  requests; a client sending a request line a byte at a time held its descriptor forever.
  The head (request line and headers) must be complete `header_timeout_s` after the
  connection opens, or after the first byte of each later request on a kept-alive one
  (that timer is armed only when the data holding that byte did not complete the head). A
  client that sent part of a head gets `408` before the close; one that sent nothing (a
  browser's speculative preconnect) is closed silently, as an idle keep-alive one is.
- Body here: once a request's whole body is in memory its scope says so
  (`responses.BODY_RECEIVED`): reading it then needs no deadline, a timer saved per request.
- The per-fix routes' lane (http_lean.py): a plain request to them is served here, past
  uvicorn's request cycle. Its handler starts once the body is in, so the body's deadline
  (`BODY_TIMEOUT_S`, what the handler's read would give it) is kept here: armed when data
  ends with the body incomplete, `408` and the close when it passes.
- Upgrade: uvicorn hands the transport to the WebSocket protocol and drops this object,
  but its parser's callbacks are this object's bound methods: a reference cycle that only
  the collector frees, and server/base/gc_freeze.py keeps it out of the collector's sight while the
  socket is open. Broken at the handover, the object goes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from server.edges import responses
from server.edges.net.connections import Admission, Connections
from server.edges.net.http_lean import LeanCycle, LeanLane
from server.edges.net.ws_direct import DirectSocket
from server.edges.responses import BODY_RECEIVED
from server.wire.rest import error_body

REFUSAL_LINGER_S = 2.0


class ServerConfig(uvicorn.Config):
    """uvicorn's Config carrying the connection registry: the config is all that the
    protocols uvicorn makes are given."""

    def __init__(self, *args: Any, connections: Connections, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections = connections


class GatedHttp(HttpToolsProtocol):
    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._connections = config.connections if isinstance(config, ServerConfig) else None
        self._admission: Admission | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None  # a lane request's body
        self._head_started = False
        self._linger: asyncio.TimerHandle | None = None
        # The per-fix routes' lane (http_lean.py), when nothing stands between uvicorn and
        # the app (behind trusted proxies uvicorn's proxy-headers middleware does) and
        # uvicorn would do nothing more to a request (a root path, a concurrency limit).
        lane: object = getattr(self.app, "lean", None)
        plain = not self.root_path and self.limit_concurrency is None
        self._lane: LeanLane | None = lane if isinstance(lane, LeanLane) and plain else None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        _no_delay(transport)
        super().connection_made(transport)
        connections = self._connections
        if connections is None:
            return
        address = self.client[0] if self.client else ""
        refusal = connections.refusal(address)
        if refusal is not None:
            self._refuse(refusal)
            return
        self._admission = connections.admit(address)
        self._start_head_timer(connections.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        if self._linger is not None:
            return  # refused: the answer is out, the rest is dropped
        super().data_received(data)
        # A later request's head begun in this data and not complete in it: its deadline
        # starts now. Armed here rather than at its first byte, a head that arrives whole
        # (the usual case) costs no timer.
        connections = self._connections
        pending = self._head_started and self._head_timer is None
        if pending and connections is not None and not self.transport.is_closing():
            self._start_head_timer(connections.header_timeout_s)
        # A lane request's body still coming: the deadline its handler would have set
        # (responses.read_body), from now; armed only when the body did not come whole.
        cycle: object = self.cycle
        slow = type(cycle) is LeanCycle and cycle.more_body and self._body_timer is None
        if slow and not self.transport.is_closing():
            timeout_s = responses.BODY_TIMEOUT_S
            self._body_timer = self.loop.call_later(timeout_s, self._body_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        self._stop_body_timer()
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        if self._admission is not None:
            self._admission.release()
            self._admission = None
        super().connection_lost(exc)

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_started = True  # a later request's deadline: data_received arms it

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        self._head_started = False
        lane, cycle = self._lane, self.cycle
        if lane is not None and (cycle is None or cycle.response_complete):
            lean = lane.take(self)
            if lean is not None:
                self.cycle = lean  # type: ignore[assignment]  # stands as uvicorn's
                return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        cycle: object = self.cycle
        if type(cycle) is LeanCycle:
            cycle.body += body  # no more than its Content-Length, which the lane bounds
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        cycle: object = self.cycle
        if type(cycle) is LeanCycle and self._lane is not None:
            self._stop_body_timer()
            self._lane.start(self, cycle)
            return
        super().on_message_complete()
        # An upgrade has no cycle of its own (this one, if any, is an earlier request's);
        # more_body stays set when uvicorn ignored the end (the request was answered).
        cycle = getattr(self, "cycle", None)
        if cycle is not None and cycle.scope is self.scope and not cycle.more_body:
            cycle.scope[BODY_RECEIVED] = True  # type: ignore[literal-required]

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        upgraded = self.transport.get_protocol()
        admission, self._admission = self._admission, None
        if isinstance(upgraded, DirectSocket):
            upgraded.admission = admission  # released when the socket closes
        elif admission is not None:
            admission.release()
        self.parser = None  # type: ignore[assignment]  # the cycle (module docs)

    # The head deadline
    def _start_head_timer(self, timeout_s: float) -> None:
        self._head_timer = self.loop.call_later(timeout_s, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()  # a pending timer holds this object
            self._head_timer = None

    def _stop_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_too_slow(self) -> None:
        self._body_timer = None
        if not self.transport.is_closing():
            reason = f"request body not complete within {responses.BODY_TIMEOUT_S:.0f} s"
            self.transport.write(_answer(408, "Request Timeout", reason))
            self.transport.close()

    def _head_too_slow(self) -> None:
        self._head_timer = None
        connections = self._connections
        if connections is None or self.transport.is_closing():
            return
        connections.header_timeouts += 1
        if self._head_started:
            reason = f"request head not complete within {connections.header_timeout_s:g} s"
            self.transport.write(_answer(408, "Request Timeout", reason))
        self.transport.close()

    # Refusal
    def _refuse(self, reason: str) -> None:
        transport = self.transport
        transport.write(_answer(503, "Service Unavailable", reason))
        if transport.can_write_eof():
            transport.write_eof()  # the client reads the answer, then our end
        self._linger = self.loop.call_later(REFUSAL_LINGER_S, transport.close)


def _no_delay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # a real Unix socket has no Nagle to turn off
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _answer(status: int, phrase: str, reason: str) -> bytes:
    body = error_body(reason)
    head = (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body
