"""The per-fix routes served by the HTTP protocol itself, past uvicorn's request cycle.

A phone app sends one small request per fix. Under uvicorn each request gets a request
cycle (an object of twenty fields and an `asyncio.Event`), an ASGI scope built twice over,
the ASGI `receive`/`send` message exchange, a wrapper coroutine per layer (uvicorn's, the
socket dispatch, the access wrapper, the direct lane) and a keep-alive timer; measured on
the development machine that is ~50 µs of CPU per request before any route code runs,
against ~25 µs for the whole request through a bare httptools protocol.

Here `GatedHttp` (http_protocol.py) hands a request to `LeanLane.take` once its head is
parsed. The lane takes it when it is plain: a per-fix route's path (no `%`) and a method
it takes (not HEAD), HTTP/1.x without upgrade, `Expect` or `Transfer-Encoding`, and a
body of at most LEAN_MAX_BODY_BYTES by its Content-Length. Anything else goes to uvicorn
as before, so the lane never has to answer what it does not know.

A taken request is the connection's cycle (`LeanCycle`, which has the fields of uvicorn's
that its protocol reads): a request pipelined behind it waits in uvicorn's own queue, a
lost connection marks it disconnected, shutdown turns keep-alive off. Once its body is in,
one task runs what `HttpAccess` and `DirectRoutes` would: the request id, the endpoint with
the app's exception handlers (http_direct.py), the answer written in one piece with the
same headers, then the access line and metrics.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import httptools
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from server.base import logs
from server.base.metrics import Metrics
from server.edges.net.access import header, record
from server.edges.net.http_direct import DirectRoutes, log_uvicorn_access, whole_answer
from server.edges.responses import BODY_RECEIVED

if TYPE_CHECKING:
    from server.edges.net.http_protocol import GatedHttp

# A body past this by its Content-Length goes to uvicorn (the routes' 413 is said there).
LEAN_MAX_BODY_BYTES = 64 * 1024
_uvicorn_log = logging.getLogger("uvicorn.error")
_DISCONNECT: Message = {"type": "http.disconnect"}


class _NoEvent:
    """uvicorn's protocol sets its cycle's event on body, end and loss; nothing waits here."""

    __slots__ = ()

    def set(self) -> None:
        pass


_NO_EVENT = _NoEvent()


class LeanCycle:
    """A request the lane serves, standing as the protocol's `cycle`."""

    __slots__ = (
        "_read",
        "body",
        "disconnected",
        "keep_alive",
        "more_body",
        "response_complete",
        "route",
        "scope",
    )

    message_event = _NO_EVENT

    def __init__(self, scope: dict[str, Any], route: Route, keep_alive: bool) -> None:
        self.scope = scope
        self.route = route
        self.keep_alive = keep_alive
        self.body = bytearray()
        self.more_body = True
        self.disconnected = False
        self.response_complete = False
        self._read = False

    async def receive(self) -> Message:
        """The whole body, once (it is in memory before the endpoint runs)."""
        if self._read or self.disconnected:
            return _DISCONNECT
        self._read = True
        return {"type": "http.request", "body": bytes(self.body), "more_body": False}


class LeanLane:
    def __init__(self, direct: DirectRoutes, metrics: Metrics) -> None:
        self._direct = direct
        self._metrics = metrics
        # (raw path, method) -> route; HEAD is left to uvicorn (an answer without its body).
        # A path with a `%` is no key: uvicorn unquotes it, and serves it.
        self._routes = {
            (path.encode(), method.encode()): route
            for path, route in direct.routes.items()
            for method in (route.methods or ())
            if method != "HEAD"
        }

    def take(self, protocol: GatedHttp) -> LeanCycle | None:
        """The request whose head the protocol just parsed, if the lane serves it."""
        parser = protocol.parser
        if protocol.expect_100_continue or parser.should_upgrade():
            return None
        method = parser.get_method()
        url = protocol.url
        parsed = httptools.parse_url(url)
        raw_path: bytes = parsed.path
        route = self._routes.get((raw_path, method))
        if route is None:
            return None
        length = -1  # none said: no body
        for name, value in protocol.headers:
            if name == b"content-length":
                if not value.isdigit() or length >= 0 or len(value) > 9:
                    return None  # odd or said twice: uvicorn's (and httptools') to judge
                length = int(value)
            elif name == b"transfer-encoding":
                return None
        if length > LEAN_MAX_BODY_BYTES:
            return None
        version = parser.get_http_version()
        scope: dict[str, Any] = protocol.scope  # type: ignore[assignment]  # a dict
        scope["method"] = method.decode("ascii")
        if version != "1.1":
            scope["http_version"] = version
        scope["path"] = route.path  # the same, as text
        scope["raw_path"] = raw_path
        scope["query_string"] = parsed.query or b""
        keep_alive = version != "1.0" and parser.should_keep_alive()
        return LeanCycle(scope, route, keep_alive)

    def start(self, protocol: GatedHttp, cycle: LeanCycle) -> None:
        """The request's body is in: serve it on a task of its own (its context too)."""
        cycle.more_body = False
        task = protocol.loop.create_task(self._serve(protocol, cycle))
        task.add_done_callback(protocol.tasks.discard)
        protocol.tasks.add(task)

    async def _serve(self, protocol: GatedHttp, cycle: LeanCycle) -> None:
        started = time.perf_counter()
        scope = cycle.scope
        request_id = logs.request_id_from(header(scope, logs.HEADER))
        logs.request_id.set(request_id)
        echo = (logs.HEADER, request_id.encode())
        scope[BODY_RECEIVED] = True
        status = 500  # the app started no answer
        try:
            request = Request(scope, cycle.receive)
            try:
                response = await self._direct.respond(cycle.route, request)
            except Exception as exc:
                last_resort = await self._direct.last_resort(request, exc)
                if last_resort is not None:
                    status = last_resort.status_code
                    await self._write(protocol, cycle, last_resort, echo)
                _uvicorn_log.error("Exception in ASGI application\n", exc_info=exc)
                protocol.transport.close()
                return
            status = response.status_code
            await self._write(protocol, cycle, response, echo)
            if response.background is not None:
                await response.background()
        finally:
            record(self._metrics, scope, status, started)

    async def _write(
        self, protocol: GatedHttp, cycle: LeanCycle, response: Response, echo: tuple[bytes, bytes]
    ) -> None:
        """The answer in one write (http_direct.whole_answer), as `_send_fixed` writes
        uvicorn's; then the connection goes on to its next request (or closes)."""
        flow = protocol.flow
        if flow.write_paused and not cycle.disconnected:
            await flow.drain()
        if cycle.disconnected:
            return
        if protocol.access_log:
            log_uvicorn_access(protocol.access_logger, cycle.scope, response.status_code)
        head, keep_alive = self._direct.head(response), cycle.keep_alive
        default_headers = protocol.server_state.default_headers
        body = bytes(response.body)
        protocol.transport.write(whole_answer(head, default_headers, echo, keep_alive, body))
        cycle.response_complete = True
        if not keep_alive:
            protocol.transport.close()
        protocol.on_response_complete()
