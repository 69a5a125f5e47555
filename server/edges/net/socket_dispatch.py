"""A direct path for WebSocket connections, past Starlette's routing and middleware stack.

Every open socket keeps its handler's whole call chain alive for as long as it is open;
through Starlette's middleware that is about ten frames per socket. Sockets are the one
thing a server holds thousands of, so the three socket paths are dispatched here and the
rest (HTTP) goes to Starlette as usual, each response with `X-Content-Type-Options:
nosniff` (added here, so pages, static files and errors all have it). Handlers still get a
Starlette `WebSocket`.

A handler that finds the database unavailable (DatabaseUnavailable, server/base/dbguard.py) ends
here too: its socket is closed with 1013 (try again later), the sockets' 503.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState

from server.base.dbguard import UNAVAILABLE, DatabaseUnavailable
from server.wire.close_codes import CLOSE_TRY_AGAIN_LATER

Handler = Callable[[WebSocket], Awaitable[None]]
# Browsers must take every response as the type it says it is (a JSON error is no script).
_NOSNIFF = (b"x-content-type-options", b"nosniff")


class SocketDispatch:
    def __init__(
        self, app: Starlette, exact: dict[str, Handler], prefixed: dict[str, tuple[str, Handler]]
    ) -> None:
        self.app = app  # what tests and tools unwrap to
        self._exact = exact
        self._prefixed = prefixed  # prefix -> (path parameter name, handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            path: str = scope["path"]
            handler = self._exact.get(path)
            params: dict[str, str] = {}
            if handler is None:
                for prefix, (name, candidate) in self._prefixed.items():
                    rest = path[len(prefix) :]
                    if path.startswith(prefix) and rest and "/" not in rest:
                        handler, params = candidate, {name: rest}
                        break
            if handler is not None:
                scope["app"] = self.app
                scope["path_params"] = params
                ws = WebSocket(scope, receive, send)
                try:
                    await handler(ws)
                except DatabaseUnavailable:
                    self.app.state.services.metrics.db_unavailable.labels("ws").inc()
                    await _close_try_again_later(ws)
                return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if not any(name.lower() == _NOSNIFF[0] for name, _ in headers):
                    message["headers"] = [*headers, _NOSNIFF]
            await send(message)

        await self.app(scope, receive, send_nosniff)


async def _close_try_again_later(ws: WebSocket) -> None:
    """A close frame with 1013, whichever lane the handler had switched the socket to."""
    if ws.application_state is WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(OSError):  # the client left meanwhile: nothing to tell
        await ws.close(CLOSE_TRY_AGAIN_LATER, UNAVAILABLE)
