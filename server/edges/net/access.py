"""Every HTTP request: a request id, one access log line, its count and duration.

A plain ASGI wrapper around the Starlette app (not BaseHTTPMiddleware, which runs each
request through an extra task and memory streams), on the HTTP path only: sockets are
dispatched before it (socket_dispatch.py) and counted there. The routes that take a request
per fix go from here straight to their endpoints (http_direct.py).

- The request id is the client's `X-Request-ID` when it is safe to log (server/base/logs.py),
  else a fresh one; it is echoed in the response and set for the request's task, so the
  app's lines for the request carry it too. It is not reset when the request ends: each
  request runs in a task of its own, and uvicorn's report of an exception escaping the app
  comes after.
- Lines and metrics name the route template (`/api/track/{code}`), never the path: tracking
  codes and tokens travel in paths, and a template is a bounded label. A path no route
  matches is `unmatched`; a method outside HTTP's usual ones is `OTHER`.
- Every response says `X-Content-Type-Options: nosniff`: browsers must take it as the type
  it says it is (a JSON error is no script).
"""

from __future__ import annotations

import logging
import time

from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from server.base import logs
from server.base.metrics import Metrics
from server.edges.net.http_direct import DirectRoutes, with_headers

access_log = logging.getLogger("tracker.access")

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_ID = logs.HEADER


def route_template(scope: Scope) -> str:
    """The template of the route that took the request (Starlette puts it in the scope)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    return f"{path}/{{path}}" if isinstance(route, Mount) else path


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header `name` (lower case) in an HTTP or WebSocket scope."""
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


class HttpAccess:
    def __init__(self, app: ASGIApp, metrics: Metrics, direct: DirectRoutes | None = None) -> None:
        self.app = app
        self._metrics = metrics
        self._direct = direct  # the per-fix routes, past Starlette's stack (http_direct.py)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = logs.request_id_from(header(scope, _REQUEST_ID))
        logs.request_id.set(request_id)
        echo = (_REQUEST_ID, request_id.encode())
        sent: list[int] = []  # the status of the response started, if any

        lane = self._direct
        direct = lane.route_for(scope) if lane is not None else None
        try:
            if lane is not None and direct is not None:
                await lane.serve(direct, scope, receive, send, echo, sent)  # its headers too
            else:
                await self.app(scope, receive, with_headers(send, echo, sent))
        finally:
            record(self._metrics, scope, sent[-1] if sent else 500, started)  # 500: no answer


def record(metrics: Metrics, scope: Scope, status: int, started: float) -> None:
    """A request's metrics and access line, by its route's template; `started` is its
    `time.perf_counter()` when it came in."""
    seconds = time.perf_counter() - started
    route = route_template(scope)
    method = scope["method"] if scope["method"] in METHODS else "OTHER"
    metrics.observe_http(route, method, status, seconds)
    if access_log.isEnabledFor(logging.INFO):
        duration_ms = round(seconds * 1000.0, 2)
        access_log.info(
            "%s %s %d %.2f ms",
            method,
            route,
            status,
            duration_ms,
            extra={"method": method, "route": route, "status": status, "duration_ms": duration_ms},
        )
