"""A lean WebSocket client for the load generators: `websockets`' sans-I/O client protocol
over a plain asyncio transport, with a callback per message instead of an await.

The load runs on the same small machine as the server: every microsecond a bench process
spends per message is taken from the server, and every delay in reading a message counts
as the server's latency. The `websockets` asyncio client costs a future and a task wake-up
per message; thousands of these sockets at a message a second each cost a core.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

OnMessage = Callable[[bytes], None]


class LeanSocket(asyncio.Protocol):
    def __init__(self, uri: str, on_message: OnMessage) -> None:
        self.conn = ClientProtocol(parse_uri(uri), max_size=None)
        self.on_message = on_message
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._fragments: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport (uvloop's)
        self.conn.send_request(self.conn.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)
        for event in self.conn.events_received():
            if isinstance(event, Frame):
                self._frame(event)
            elif isinstance(event, Response) and not self.opened.done():
                if self.conn.handshake_exc is None:
                    self.opened.set_result(None)
                else:
                    self.opened.set_exception(self.conn.handshake_exc)
        self._flush()  # pongs, the close reply

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.receive_eof()
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("connection closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    # Using it
    def send(self, text: str) -> bool:
        """Send a text message now; False once the connection is closing."""
        if self.closed.done() or self.conn.close_sent is not None:
            return False
        self.conn.send_text(text.encode())
        self._flush()
        return True

    async def close(self, timeout_s: float = 10.0) -> None:
        if not self.closed.done() and self.conn.close_sent is None:
            self.conn.send_close(1000)
            self._flush()
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout_s)
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()

    def _frame(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            if not frame.fin:
                self._fragments.append(bytes(frame.data))
            elif self._fragments:
                self._fragments.append(bytes(frame.data))
                data, self._fragments = b"".join(self._fragments), []
                self.on_message(data)
            else:
                self.on_message(bytes(frame.data))

    def _flush(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            for chunk in self.conn.data_to_send():
                if chunk:
                    self.transport.write(chunk)
                else:  # end of stream: the protocol is done sending
                    self.transport.write_eof()


async def connect(uri: str, on_message: OnMessage, timeout_s: float = 60.0) -> LeanSocket:
    wsuri = parse_uri(uri)
    loop = asyncio.get_running_loop()
    _, sock = await asyncio.wait_for(
        loop.create_connection(lambda: LeanSocket(uri, on_message), wsuri.host, wsuri.port),
        timeout_s,
    )
    await asyncio.wait_for(sock.opened, timeout_s)
    return sock
