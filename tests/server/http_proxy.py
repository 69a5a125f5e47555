"""A reverse proxy doing what deploy/nginx.conf has nginx do: every request goes upstream
with X-Forwarded-For set to the address it came from, whatever the client put there.

It connects upstream from `source_address` (any 127.x.y.z is loopback on Linux), so a server
can trust it, and only it, as a proxy. One request per connection (`Connection: close`)
keeps it small: every request head passes through here and is rewritten.
"""

from __future__ import annotations

import asyncio
import contextlib

HEAD_MAX_BYTES = 64 * 1024
DROPPED = (b"x-forwarded-for", b"x-forwarded-proto", b"connection", b"forwarded")


class ForwardingProxy:
    def __init__(self, target_port: int, source_address: str) -> None:
        self._target_port = target_port
        self._source_address = source_address
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.base_url = ""

    async def __aenter__(self) -> ForwardingProxy:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, limit=HEAD_MAX_BYTES
        )
        self.base_url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await client_r.readuntil(b"\r\n\r\n")
            upstream_r, upstream_w = await asyncio.open_connection(
                "127.0.0.1", self._target_port, local_addr=(self._source_address, 0)
            )
            peer = client_w.get_extra_info("peername")[0]
            upstream_w.write(rewritten(head, peer))
            await asyncio.gather(_pipe(client_r, upstream_w), _pipe(upstream_r, client_w))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            client_w.transport.abort()
        finally:
            self._tasks.discard(task)


def rewritten(head: bytes, peer: str) -> bytes:
    """The request head with the client's forwarding headers replaced by the proxy's own."""
    request_line, *lines = head.rstrip(b"\r\n").split(b"\r\n")
    kept = [line for line in lines if line.split(b":", 1)[0].strip().lower() not in DROPPED]
    kept += [
        b"X-Forwarded-For: " + peer.encode(),
        b"X-Forwarded-Proto: http",
        b"Connection: close",
    ]
    return b"\r\n".join([request_line, *kept]) + b"\r\n\r\n"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.close()
