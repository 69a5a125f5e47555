"""A direct lane for the routes that take a request per fix, past Starlette's middleware
stack and router.

The phone apps' paths (`/osmand`, `/owntracks`) and `/api/ingest` carry one request per fix
(or per batch): what every request passes through is paid thousands of times a second.
Through Starlette that is the application, its two error middlewares, the router (a regex
per route until one matches), the route and `request_response`, each wrapping `send` in a
closure of its own. Here a request whose path is one of these routes' and whose method the
route takes goes straight to its endpoint; everything else (another method: Starlette's
405 with its `Allow`; any other path) goes to Starlette as before.

What the lane keeps of Starlette's: the endpoint gets a Starlette `Request` with the app in
its scope, the scope names the route (access lines and metrics name its template), and an
exception is answered by the app's exception handlers as Starlette would: the handler
registered for its class or a base (DatabaseUnavailable's 503, HTTPException's shape),
else the last resort's 500, after which the exception is raised again for the server to
log and close the connection, as Starlette's ServerErrorMiddleware does.

The usual answer of these routes is always the same (a phone app's 200: a FixedResponse).
Under uvicorn it is written in one piece, its head encoded once: through Starlette's
Response and uvicorn's `send` it took two messages, a copy and two regular expressions per
header and two writes, per request. Anything else goes through `send` as before. Either
way the answer says `nosniff` and echoes the request id (access.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, RequestResponseCycle
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from server.edges.responses import FixedResponse

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]
Header = tuple[bytes, bytes]
NOSNIFF = (b"x-content-type-options", b"nosniff")


class DirectRoutes:
    def __init__(
        self,
        app: Any,
        routes: Iterable[Route],
        exception_handlers: Mapping[type[BaseException], ExceptionHandler],
    ) -> None:
        self._app = app
        self._routes: dict[str, Route] = {}
        for route in routes:
            if route.path in self._routes or "{" in route.path:
                raise ValueError(f"a direct route is one fixed path, once: {route.path}")
            self._routes[route.path] = route
        self._handlers = dict(exception_handlers)
        self._last_resort = self._handlers.pop(Exception, None)
        self._heads: dict[Response, tuple[bytes, bytes]] = {}  # encoded once

    def route_for(self, scope: Scope) -> Route | None:
        """The direct route that takes this request, or None (Starlette's to serve)."""
        route = self._routes.get(scope["path"])
        if route is None or (route.methods is not None and scope["method"] not in route.methods):
            return None
        return route

    async def serve(
        self,
        route: Route,
        scope: Scope,
        receive: Receive,
        send: Send,
        echo: Header,
        sent: list[int],
    ) -> None:
        """Answer the request, appending the status it starts to `sent`. Every answer says
        `nosniff` and echoes the request id (`echo`), as `with_headers` adds to Starlette's."""
        request = Request(scope, receive, send)
        try:
            response = await self.respond(route, request)
        except Exception as exc:
            last_resort = await self.last_resort(request, exc)
            if last_resort is not None:
                await last_resort(scope, receive, with_headers(send, echo, sent))
            raise
        cycle = getattr(send, "__self__", None)  # uvicorn's, unless under a test client
        plain = response.background is None and scope["method"] != "HEAD"  # (HEAD: no body)
        if isinstance(response, FixedResponse) and plain and type(cycle) is RequestResponseCycle:
            sent.append(response.status_code)
            status = response.status_code
            await _send_fixed(cycle, status, self.head(response), bytes(response.body), echo)
            return
        await response(scope, receive, with_headers(send, echo, sent))

    @property
    def routes(self) -> Mapping[str, Route]:
        """The direct routes by path."""
        return self._routes

    async def respond(self, route: Route, request: Request) -> Response:
        """The route's answer to the request, or the app's handler's for what it raised
        (the one registered for its class or a base). Raises what no handler takes."""
        scope = request.scope
        scope["app"] = self._app
        scope["route"] = route
        scope["path_params"] = {}
        try:
            response: Response = await route.endpoint(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            return await handler(request, exc)
        return response

    async def last_resort(self, request: Request, exc: Exception) -> Response | None:
        """The app's answer to an exception no handler took (its 500), if it has one."""
        if self._last_resort is None:
            return None
        return await self._last_resort(request, exc)

    def head(self, response: Response) -> tuple[bytes, bytes]:
        """Its status line and its headers (with `nosniff`), encoded: once per
        FixedResponse, each time for any other."""
        fixed = isinstance(response, FixedResponse)
        head = self._heads.get(response) if fixed else None
        if head is None:
            headers = response.raw_headers
            if all(name != NOSNIFF[0] for name, _ in headers):
                headers = [*headers, NOSNIFF]
            encoded = b"".join(b"%s: %s\r\n" % h for h in headers)
            head = (STATUS_LINE[response.status_code], encoded)
            if fixed:
                self._heads[response] = head
        return head

    def _handler_for(self, exc: Exception) -> ExceptionHandler | None:
        for cls in type(exc).__mro__:
            handler = self._handlers.get(cls)
            if handler is not None:
                return handler
        return None


def with_headers(send: Send, echo: Header, sent: list[int] | None = None) -> Send:
    """`send` adding `nosniff` (unless the app said it) and the request id (`echo`) to the
    response's start, whose status it appends to `sent`."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            if sent is not None:
                sent.append(message["status"])
            headers = list(message.get("headers", ()))
            if not any(name.lower() == NOSNIFF[0] for name, _ in headers):
                headers.append(NOSNIFF)
            headers.append(echo)  # the app's handlers set none of their own
            message["headers"] = headers
        await send(message)

    return send_with_headers


async def _send_fixed(
    cycle: RequestResponseCycle, status: int, head: tuple[bytes, bytes], body: bytes,
    echo: Header,
) -> None:  # fmt: skip
    """What uvicorn's `send` does with a response's start and its whole body (status line,
    the server's default headers, the response's, `connection: close` when the connection
    is not kept alive; then the response is complete), in one write, the head's headers
    encoded once and known to be valid."""
    if cycle.flow.write_paused and not cycle.disconnected:
        await cycle.flow.drain()
    if cycle.disconnected:
        return
    if cycle.response_started:
        raise RuntimeError("a response was started already")
    cycle.response_started = True
    cycle.waiting_for_100_continue = False
    if cycle.access_log:
        log_uvicorn_access(cycle.access_logger, cycle.scope, status)
    keep_alive = cycle.keep_alive
    cycle.transport.write(whole_answer(head, cycle.default_headers, echo, keep_alive, body))
    cycle.response_complete = True
    cycle.message_event.set()
    if not keep_alive:
        cycle.transport.close()
    cycle.on_response()


def whole_answer(
    head: tuple[bytes, bytes], default_headers: Iterable[Header], echo: Header,
    keep_alive: bool, body: bytes,
) -> bytes:  # fmt: skip
    """An answer in one piece: `head` (status line, encoded headers), uvicorn's default
    headers (server, date), the request id (`echo`), `connection: close` when the
    connection is not kept alive, and the body."""
    parts = [head[0]]
    for name, value in default_headers:
        parts.append(b"%s: %s\r\n" % (name, value))
    parts.append(head[1])
    parts.append(b"%s: %s\r\n" % echo)
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    parts.append(body)
    return b"".join(parts)


def log_uvicorn_access(logger: logging.Logger, scope: Any, status: int) -> None:
    """uvicorn's access line for an answer written past its `send` (its query redacted
    by our log filter, server/base/redact.py)."""
    logger.info(
        '%s - "%s %s HTTP/%s" %d', get_client_addr(scope), scope["method"],
        get_path_with_query_string(scope), scope["http_version"], status,
    )  # fmt: skip
