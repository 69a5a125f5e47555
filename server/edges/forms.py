"""multipart/form-data request bodies, bounded: Starlette's parser (python-multipart) fed
from a stream that stops at a byte limit and a deadline. File parts are spooled to disk
above 1 MB by the parser, so memory stays small whatever the upload; the byte limit
bounds the disk too. The caller closes the form (`await form.close()`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response

from server.edges.responses import BODY_TIMEOUT_S, declared_over, error_response


class _TooLarge(Exception):
    pass


async def _bounded(stream: AsyncIterator[bytes], limit_bytes: int) -> AsyncGenerator[bytes, None]:
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit_bytes:
            raise _TooLarge
        yield chunk


async def read_multipart(
    request: Request, limit_bytes: int, max_parts: int, max_field_bytes: int
) -> FormData | Response:
    """The form, or the 400/408/413/415 to answer with (naming the problem)."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
        return error_response(415, "the body must be multipart/form-data")
    if declared_over(request, limit_bytes):
        return error_response(413, f"body over {limit_bytes} bytes")
    parser = MultiPartParser(
        request.headers,
        _bounded(request.stream(), limit_bytes),
        max_files=max_parts,
        max_fields=max_parts,
        max_part_size=max_field_bytes,
    )
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            form = await parser.parse()
    except _TooLarge:
        return error_response(413, f"body over {limit_bytes} bytes")
    except TimeoutError:
        return error_response(408, f"request body not complete within {BODY_TIMEOUT_S:.0f} s")
    except MultiPartException as exc:
        return error_response(400, f"multipart body: {exc.message}")
    if len(form.multi_items()) > max_parts:
        await form.close()
        return error_response(400, f"multipart body: more than {max_parts} parts")
    return form
