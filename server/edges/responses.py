"""JSON responses encoded with msgspec, the error shape every endpoint uses (Starlette's
own 404/405 and the last-resort 500 included), and JSON request bodies decoded."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match

from server.wire import jsonin, rest

_encode = msgspec.json.Encoder().encode


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(_encode(content), status_code, headers, media_type="application/json")


def error_response(
    status_code: int, reason: str, headers: dict[str, str] | None = None
) -> Response:
    return json_response(rest.Error(reason), status_code, headers)


class FixedResponse(Response):
    """An answer built once and sent as is to many requests (a phone app's usual 200): the
    direct lane (server/edges/net/http_direct.py) writes it in one piece from a head encoded
    once; anywhere else it is a plain Response."""


UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="tracker"'}
# For an answer that shows a secret once (a new token or key): no cache keeps a copy.
SECRET_HEADERS = {"Cache-Control": "no-store"}


BODY_TIMEOUT_S = 30.0  # a body still arriving after this is a client holding a connection
# In an HTTP request's scope once the whole body is in memory, set by the protocol
# (server/edges/net/http_protocol.py): reading it then cannot wait, so needs no deadline.
BODY_RECEIVED = "tracker.body_received"


async def read_body(receive_stream: Any, limit_bytes: int) -> bytes | None:
    """The request body, or None once it exceeds `limit_bytes` (stops reading there).
    Raises HTTPException 408 when it takes over BODY_TIMEOUT_S (the head has its own
    deadline, server/edges/net/http_protocol.py; a body trickled a byte at a time had none)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            async for chunk in receive_stream:
                size += len(chunk)
                if size > limit_bytes:
                    return None
                chunks.append(chunk)
    except TimeoutError:
        raise HTTPException(
            408, f"request body not complete within {BODY_TIMEOUT_S:.0f} s"
        ) from None
    return b"".join(chunks)


def declared_over(request: Request, limit_bytes: int) -> bool:
    """The head declares a body over `limit_bytes`: refused before a byte of it is read, or
    waited for (a client declaring megabytes and sending none would hold its connection to
    the body's deadline). httptools has refused a Content-Length that is not a number."""
    declared = request.headers.get("content-length", "")
    if not (declared.isascii() and declared.isdigit()):
        return False
    return len(declared) > 18 or int(declared) > limit_bytes


async def request_body(request: Request, limit_bytes: int) -> bytes | None:
    """`read_body` of a request, None at once when its head declares too much; without the
    deadline (a timer per request, dear on the per-fix routes) when the protocol says the
    whole body is here already: the usual case, as a phone's request arrives in one packet."""
    if not request.scope.get(BODY_RECEIVED):
        if declared_over(request, limit_bytes):  # not read, nor waited for
            return None
        return await read_body(request.stream(), limit_bytes)
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await request.receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit_bytes:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


T = TypeVar("T")


async def decode_body(request: Request, kind: type[T], max_bytes: int, what: str) -> T | Response:
    """The request's JSON body as `kind`, or the 413/422 to answer with (naming `what`)."""
    body = await request_body(request, max_bytes)
    if body is None:
        return error_response(413, f"body over {max_bytes} bytes")
    try:
        value = jsonin.decode(body, kind)
    except msgspec.DecodeError as exc:
        return error_response(422, f"invalid {what}: {exc}")
    bad = jsonin.control_char_path(value)
    if bad is not None:
        return error_response(422, f"invalid {what}: {bad} holds a control character")
    return value


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (an unknown path, a method the route does not take) in
    the shape every endpoint answers with."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        return error_response(404, "no such path", headers)
    if exc.status_code == 405:
        # Starlette names only the first route's methods; a path may have several routes.
        allowed = sorted(
            {
                method
                for route in request.app.routes
                if route.matches(request.scope)[0] == Match.PARTIAL
                for method in getattr(route, "methods", None) or ()
            }
        )
        headers["Allow"] = ", ".join(allowed)
        return error_response(
            405, f"{request.method} not allowed; allowed: {headers['Allow']}", headers
        )
    return error_response(exc.status_code, str(exc.detail), headers)


async def internal_error(request: Request, exc: Exception) -> Response:
    """The last resort: a bug answers JSON too (Starlette logs the exception)."""
    return error_response(500, "internal error")
