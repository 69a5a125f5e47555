"""A streamed export: bytes produced batch by batch from a server-side cursor on one pooled
connection, sent as they come (chunked), never the whole answer in memory.

Bounds. The stream holds a pooled connection (and a read-only transaction) while it runs,
so its whole life, database reads and sends to the client alike, gets one limit:
`TRACKER_EXPORT_TIMEOUT_S`, longer than a request's `TRACKER_DB_REQUEST_TIMEOUT_S` since
a day's track is tens of thousands of rows. A client that reads too slowly (or not at all:
a send waits while its socket buffer is full) is cut off there; so is one that hangs up,
at once. A cut stream ends without its last chunk, so the client sees an incomplete
answer, never a short file that looks whole; its connection is terminated rather than
given back (it may be mid-query), and the pool opens a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import asyncpg
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from server.base.dbguard import bounded_connection
from server.store import Conn

log = logging.getLogger("tracker.exports")

Produce = Callable[[Conn], AsyncIterator[bytes]]


class ExportCut(Exception):
    """The export ran over its time limit or lost the database after it started: the
    answer is incomplete (its status line has gone, so this is no 503)."""


class ExportResponse(Response):
    def __init__(
        self,
        pool: asyncpg.Pool,
        produce: Produce,
        media_type: str,
        limit_s: float,
        filename: str,
    ) -> None:
        # No body up front, so no Content-Length: the answer goes out chunked.
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(
            {
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            }
        )
        self._pool = pool
        self._produce = produce
        self._limit_s = limit_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stream = asyncio.create_task(self._stream(send))
        hangup = asyncio.create_task(_hangup(receive))
        try:
            done, _ = await asyncio.wait((stream, hangup), return_when=asyncio.FIRST_COMPLETED)
            if stream not in done:
                log.info("export stopped: the client hung up")
        finally:
            for task in (stream, hangup):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hangup
            with contextlib.suppress(asyncio.CancelledError):
                await stream  # its error, if any, is the request's

    async def _stream(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        started_at = asyncio.get_running_loop().time()
        try:
            # One limit for the whole stream, sends included; a stream cut short (over
            # the limit, or cancelled when the client hangs up) has its connection
            # terminated, not rolled back and given back (bounded_connection).
            async with bounded_connection(self._pool, self._limit_s) as conn:
                transaction = conn.transaction(readonly=True)  # a cursor lives in one
                await transaction.start()
                async for chunk in self._produce(conn):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await transaction.commit()
        except Exception as exc:
            if asyncio.get_running_loop().time() - started_at >= self._limit_s:
                reason = f"over TRACKER_EXPORT_TIMEOUT_S ({self._limit_s:g} s)"
            else:
                reason = repr(exc)
            log.warning("export cut off after it started: %s", reason)
            raise ExportCut(reason) from exc
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _hangup(receive: Receive) -> None:
    """Returns when the client disconnects (a GET's request body is already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass
