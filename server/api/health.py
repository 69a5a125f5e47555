"""`GET /healthz` (is the database reachable and are writes flowing) and `GET /metrics`."""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from server.responses import json_response
from server.services import Services

HEALTH_TIMEOUT_S = 2.0


async def healthz(request: Request) -> Response:
    services: Services = request.app.state.services
    database = "ok"
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S):
            async with services.pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
    except Exception as exc:
        database = f"unreachable: {type(exc).__name__}"
    writes = "ok" if services.writer.healthy else "retrying"
    ok = database == "ok" and writes == "ok"
    body = {
        "status": "ok" if ok else "degraded",
        "database": database,
        "writes": writes,
        "write_queue_rows": services.writer.depth,
    }
    return json_response(body, 200 if ok else 503)


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
