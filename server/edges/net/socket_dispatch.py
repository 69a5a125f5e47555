"""A direct path for WebSocket connections, past Starlette's routing and middleware stack.

Every open socket keeps its handler's whole call chain alive for as long as it is open;
through Starlette's middleware that is about ten frames per socket. Sockets are the one
thing a server holds thousands of, so the three socket paths are dispatched here and the
rest (HTTP) goes to Starlette as usual, through `HttpAccess` (access.py). Handlers still
get a Starlette `WebSocket`.

Each socket gets a request id (the client's `X-Request-ID` when safe, as for HTTP) for its
task's log lines, a line when it opens and when it closes (with its kind and route
template, never its path: tracking codes and tokens travel there), and is counted in
`tracker_sockets_open{kind}` meanwhile.

A handler that finds the database unavailable (DatabaseUnavailable, server/base/dbguard.py) ends
here too: its socket is closed with 1013 (try again later), the sockets' 503.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from server.base import logs
from server.base.dbguard import UNAVAILABLE, DatabaseUnavailable
from server.base.metrics import Metrics
from server.edges.net.access import HttpAccess, header
from server.edges.net.http_direct import DirectRoutes
from server.edges.net.http_lean import LeanLane
from server.edges.net.ws_direct import found_socket
from server.wire.close_codes import CLOSE_TRY_AGAIN_LATER

log = logging.getLogger("tracker.sockets")

Handler = Callable[[WebSocket], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SocketRoute:
    template: str  # what logs name: `/ws/track/{code}`, never the code
    kind: str  # courier | customer | fleet (tracker_sockets_open's label)
    handler: Handler
    param: str = ""  # a prefixed route's path parameter


class SocketDispatch:
    def __init__(
        self,
        app: Starlette,
        metrics: Metrics,
        exact: dict[str, SocketRoute],
        prefixed: dict[str, SocketRoute],
        direct: DirectRoutes | None = None,
    ) -> None:
        self.app = app  # what tests and tools unwrap to
        self._http = HttpAccess(app, metrics, direct)
        # The per-fix routes past uvicorn's request cycle too (http_lean.py): the HTTP
        # protocol finds the lane here, when it is given this app unwrapped.
        self.lean = LeanLane(direct, metrics) if direct is not None else None
        self._metrics = metrics
        self._exact = exact
        self._prefixed = prefixed  # prefix -> route; the rest of the path is its parameter
        routes = [*exact.values(), *prefixed.values()]
        self._open = {r.kind: metrics.sockets_open.labels(r.kind) for r in routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
            return
        if scope["type"] == "websocket":
            path: str = scope["path"]
            route = self._exact.get(path)
            params: dict[str, str] = {}
            if route is None:
                for prefix, candidate in self._prefixed.items():
                    rest = path[len(prefix) :]
                    if path.startswith(prefix) and rest and "/" not in rest:
                        route, params = candidate, {candidate.param: rest}
                        break
            if route is not None:
                scope["app"] = self.app
                scope["path_params"] = params
                # Inline, not a coroutine of its own: this frame lives as long as the
                # socket's task (a parked socket has none: see DirectSocket.park).
                opened = self._opened(route, scope)
                ws = WebSocket(scope, receive, send)
                try:
                    await route.handler(ws)
                except DatabaseUnavailable:
                    self._metrics.db_unavailable.labels("ws").inc()
                    await _close_try_again_later(ws)
                finally:
                    sock = found_socket(ws)
                    closed = functools.partial(self._closed, route, opened)
                    if sock is None or not sock.after_close(closed):
                        closed()
                return
        await self.app(scope, receive, send)

    def _opened(self, route: SocketRoute, scope: Scope) -> float:
        request_id = logs.request_id_from(header(scope, logs.HEADER))
        logs.request_id.set(request_id)  # this socket's task, to its end
        self._open[route.kind].inc()
        if log.isEnabledFor(logging.INFO):
            log.info("socket open: %s %s", route.kind, route.template, extra=_fields(route))
        return time.perf_counter()

    def _closed(self, route: SocketRoute, opened: float) -> None:
        self._open[route.kind].dec()
        if log.isEnabledFor(logging.INFO):
            duration_ms = round((time.perf_counter() - opened) * 1000.0, 2)
            log.info(
                "socket closed: %s %s after %.2f ms",
                route.kind,
                route.template,
                duration_ms,
                extra={**_fields(route), "duration_ms": duration_ms},
            )


def _fields(route: SocketRoute) -> dict[str, str]:
    return {"kind": route.kind, "route": route.template}


async def _close_try_again_later(ws: WebSocket) -> None:
    """A close frame with 1013, whichever lane the handler had switched the socket to."""
    if ws.application_state is WebSocketState.DISCONNECTED:
        return
    # The client may have left meanwhile (it waited as long as we did): nothing to tell.
    # Starlette reports that as WebSocketDisconnect, the transport as OSError.
    with contextlib.suppress(OSError, WebSocketDisconnect):
        await ws.close(CLOSE_TRY_AGAIN_LATER, UNAVAILABLE)
