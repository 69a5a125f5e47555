"""JSON responses encoded with msgspec, and the error shape every endpoint uses."""

from __future__ import annotations

from typing import Any

import msgspec
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
