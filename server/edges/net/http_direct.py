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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


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

    def route_for(self, scope: Scope) -> Route | None:
        """The direct route that takes this request, or None (Starlette's to serve)."""
        route = self._routes.get(scope["path"])
        if route is None or (route.methods is not None and scope["method"] not in route.methods):
            return None
        return route

    async def serve(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self._app
        scope["route"] = route
        scope["path_params"] = {}
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                if self._last_resort is not None:
                    await (await self._last_resort(request, exc))(scope, receive, send)
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> ExceptionHandler | None:
        for cls in type(exc).__mro__:
            handler = self._handlers.get(cls)
            if handler is not None:
                return handler
        return None
