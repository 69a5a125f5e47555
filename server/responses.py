"""JSON responses encoded with msgspec, and the error shape every endpoint uses."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

_encode = msgspec.json.Encoder().encode


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(_encode(content), status_code, headers, media_type="application/json")


def error_response(
    status_code: int, reason: str, headers: dict[str, str] | None = None
) -> Response:
    return json_response({"error": reason}, status_code, headers)


UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="tracker"'}


async def read_body(receive_stream: Any, limit_bytes: int) -> bytes | None:
    """The request body, or None once it exceeds `limit_bytes` (stops reading there)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in receive_stream:
        size += len(chunk)
        if size > limit_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


T = TypeVar("T")


async def decode_body(request: Request, kind: type[T], max_bytes: int, what: str) -> T | Response:
    """The request's JSON body as `kind`, or the 413/422 to answer with (naming `what`)."""
    body = await read_body(request.stream(), max_bytes)
    if body is None:
        return error_response(413, f"body over {max_bytes} bytes")
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.DecodeError as exc:
        return error_response(422, f"invalid {what}: {exc}")
