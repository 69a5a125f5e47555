"""`POST /api/ingest`: a batch of fixes over plain HTTP, answered only after commit."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from server import wire
from server.auth import presented_token
from server.responses import UNAUTHORIZED_HEADERS, error_response, json_response, read_body
from server.services import Services

# How long a request waits for its fixes to be committed before answering 503.
STORE_WAIT_S = 30.0


class _StoredWaiter:
    """A StoreSink that completes a future once every queued fix is accounted for."""

    def __init__(self) -> None:
        self.acked: list[int] = []
        self.failed_fixes: list[wire.Rejected] = []
        self._remaining = 0
        self._expecting = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def expect(self, count: int) -> None:
        self._remaining += count
        self._expecting = True
        self._check()

    def stored(self, seqs: list[int]) -> None:
        self.acked.extend(seqs)
        self._remaining -= len(seqs)
        self._check()

    def failed(self, seq: int, reason: str) -> None:
        self.failed_fixes.append(wire.Rejected(seq, reason))
        self._remaining -= 1
        self._check()

    def _check(self) -> None:
        if self._expecting and self._remaining <= 0 and not self.done.done():
            self.done.set_result(None)


async def ingest(request: Request) -> Response:
    services: Services = request.app.state.services
    token = presented_token(request.headers)
    if token is None:
        return error_response(401, "missing driver token", UNAUTHORIZED_HEADERS)
    try:
        driver = await services.driver_for_token(token)
    except Exception:
        return error_response(503, "database unavailable, retry later", {"Retry-After": "5"})
    if driver is None:
        return error_response(401, "invalid driver token", UNAUTHORIZED_HEADERS)
    body = await read_body(request.stream(), services.settings.max_frame_bytes)
    if body is None:
        return error_response(413, f"body over {services.settings.max_frame_bytes} bytes")
    try:
        decoded = wire.decode_fixes_body(body, services.settings.max_fixes_per_message)
    except wire.FrameError as exc:
        services.metrics.frames_invalid.inc()
        return error_response(400, str(exc))

    waiter = _StoredWaiter()
    try:
        async with asyncio.timeout(STORE_WAIT_S):
            rejected = await services.pipeline.ingest(driver, decoded.fixes, waiter)
            waiter.expect(len(decoded.fixes) - len(rejected))
            await waiter.done
    except TimeoutError:
        return json_response(
            {
                "error": "storage is behind; resend the fixes not acked",
                "acked": sorted(waiter.acked),
            },
            503,
            {"Retry-After": "5"},
        )
    rejected_all = decoded.rejected + rejected + waiter.failed_fixes
    return json_response({"acked": sorted(waiter.acked), "rejected": rejected_all})
