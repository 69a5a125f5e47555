"""Keepalive for the direct lane's sockets (ws_direct.py): uvicorn's pings and pong
deadlines, kept on a few shared timers (`CoarseDeadlines`, one per half second) instead of
a timer per socket: a timer of its own (uvloop's TimerHandle and libuv handle) costs an
idle socket ~1.5 KB, and a watching socket is mostly idle for hours."""

from __future__ import annotations

import random
import struct
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from server.base.coarse_deadlines import CoarseDeadlines

KEEPALIVE_GRAIN_S = 0.5
_keepalive = CoarseDeadlines(KEEPALIVE_GRAIN_S)


class CoarseKeepalive(WebSocketsSansIOProtocol):
    """uvicorn's protocol with its keepalive on the shared timers."""

    __slots__ = ("_keepalive_key",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._keepalive_key: int | None = None  # its place in `_keepalive`
        super().__init__(*args, **kwargs)

    def schedule_ping(self) -> None:
        assert self.ping_interval is not None
        self._keep_until(max(0.0, self.ping_interval - self.last_ping_rtt))

    def send_keepalive_ping(self) -> None:
        if self.close_sent or self.transport.is_closing():
            return
        # A random payload names this ping: a stale or unsolicited pong is ignored.
        self.pending_ping_payload = struct.pack("!I", random.getrandbits(32))
        self.ping_sent_at = self.loop.time()
        self.conn.send_ping(self.pending_ping_payload)
        self.transport.write(b"".join(self.conn.data_to_send()))
        if self.ping_timeout is not None:
            self._keep_until(self.ping_timeout)
        else:
            self.schedule_ping()

    def handle_pong(self, event: Any) -> None:
        if self.pending_ping_payload is None or bytes(event.data) != self.pending_ping_payload:
            return
        self.last_ping_rtt = self.loop.time() - self.ping_sent_at
        self.pending_ping_payload = None
        if self.ping_timeout is not None:  # otherwise the next ping is already due
            self.schedule_ping()

    def stop_keepalive(self) -> None:
        if self._keepalive_key is not None:
            _keepalive.discard(self, self._keepalive_key)
            self._keepalive_key = None
        self.pending_ping_payload = None

    def expire(self) -> None:
        """The keepalive deadline passed (`_keepalive` calls it): ping, or no pong came."""
        self._keepalive_key = None
        if self.pending_ping_payload is not None and self.ping_timeout is not None:
            self.keepalive_timeout()
        else:
            self.send_keepalive_ping()

    def _keep_until(self, delay_s: float) -> None:
        if self._keepalive_key is not None:
            _keepalive.discard(self, self._keepalive_key)
        self._keepalive_key = _keepalive.add(self, delay_s)
