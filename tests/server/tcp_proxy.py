"""A TCP proxy the tests can cut and restore, to take the database away from a server.

Two kinds of outage: `cut` refuses and resets connections (a database that is down: the
client learns at once), `blackhole` keeps them open and forwards nothing (packets dropped
on the way: the client learns nothing and waits). A blackhole holds the bytes rather than
dropping them, as TCP retransmission would, so `restore` resumes every stream intact.
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.accepting = True
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones, as a dead database would."""
        self.accepting = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self._flowing.set()  # held streams wake up to find their connections gone

    def blackhole(self) -> None:
        """Keep connections (and accept new ones) but forward nothing until `restore`."""
        self._flowing.clear()

    def restore(self) -> None:
        self.accepting = True
        self._flowing.set()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if not self.accepting:
            client_w.transport.abort()
            return
        self._writers.add(client_w)
        await self._flowing.wait()  # blackholed: connected, but nothing gets through
        if client_w.transport.is_closing():
            return
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self._target)
        except OSError:
            client_w.transport.abort()
            return
        self._writers.add(upstream_w)
        await asyncio.gather(self._pipe(client_r, upstream_w), self._pipe(upstream_r, client_w))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                await self._flowing.wait()  # what arrives during a blackhole is held
                if writer.transport.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._writers.discard(writer)
