"""`POST /api/ingest`: a batch of fixes over plain HTTP, answered only after commit."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.base.auth import presented_token
from server.edges.commit_wait import store_and_wait
from server.edges.responses import UNAUTHORIZED_HEADERS, error_response, json_response, request_body
from server.edges.services import Services
from server.wire import courier as wire
from server.wire.rest import Ingested, StorageBehind


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
    body = await request_body(request, services.settings.max_frame_bytes)
    if body is None:
        return error_response(413, f"body over {services.settings.max_frame_bytes} bytes")
    try:
        decoded = wire.decode_fixes_body(body, services.settings.max_fixes_per_message)
    except wire.FrameError as exc:
        services.metrics.frames_invalid.inc()
        return error_response(400, str(exc))

    outcome = await store_and_wait(services.pipeline, driver, decoded.fixes)
    if outcome.timed_out:
        return json_response(
            StorageBehind("storage is behind; resend the fixes not acked", outcome.acked),
            503,
            {"Retry-After": "5"},
        )
    return json_response(Ingested(outcome.acked, decoded.rejected + outcome.rejected))
