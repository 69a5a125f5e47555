"""Health and metrics for orchestrators and scrapers.

- `GET /livez`: the process and its event loop work (answering proves the loop turns).
  Nothing external is asked, so an orchestrator restarting on it does not restart
  replicas during the database or Redis outages they are built to ride out.
- `GET /readyz` (and `/healthz`, its older name): may this replica take traffic? The
  database answers a ping within HEALTH_TIMEOUT_S (or the shorter request budget), the
  writer is not retrying, the bus (Redis) is connected; 503 naming what is not.
- `GET /metrics`: Prometheus text, for a bearer token (TRACKER_METRICS_TOKEN or the admin
  key); not for the public, and never from the database, which may be what is down.
"""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from server.auth import presented_token
from server.dbguard import bounded_connection
from server.live.hub import Hub
from server.live.redis_hub import RedisHub
from server.responses import UNAUTHORIZED_HEADERS, error_response, json_response
from server.services import Services
from server.settings import Settings

HEALTH_TIMEOUT_S = 2.0


async def livez(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    database = await _database(services)
    writes = "ok" if services.writer.healthy else "retrying"
    bus = _bus(services.live.hub)
    ok = database == "ok" and writes == "ok" and bus == "ok"
    body = {
        "status": "ok" if ok else "degraded",
        "database": database,
        "writes": writes,
        "write_queue_rows": services.writer.depth,
        "bus": bus,
    }
    return json_response(body, 200 if ok else 503)


async def _database(services: Services) -> str:
    try:
        budget_s = min(HEALTH_TIMEOUT_S, services.settings.db_request_timeout_s)
        async with bounded_connection(services.pool, budget_s) as conn:
            await conn.fetchval("SELECT 1")
    except Exception as exc:
        return f"unreachable: {type(exc.__cause__ or exc).__name__}"
    return "ok"


def _bus(hub: Hub) -> str:
    """The in-process bus is always there; Redis is "disconnected" while it is away
    (live updates then stay within this process: tracker_bus_connected is 0)."""
    if isinstance(hub, RedisHub) and not hub.connected:
        return "disconnected"
    return "ok"


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    if not may_scrape(presented_token(request.headers), services.settings):
        return error_response(
            401,
            "metrics need Authorization: Bearer <TRACKER_METRICS_TOKEN or the admin key>",
            UNAUTHORIZED_HEADERS,
        )
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def may_scrape(token: str | None, settings: Settings) -> bool:
    """The metrics token or the admin key, compared in constant time. Database API keys
    are not asked: scraping must work while the database is down."""
    if not token:
        return False
    presented = token.encode()
    return any(
        hmac.compare_digest(presented, secret.encode())
        for secret in (settings.metrics_token, settings.admin_token)
        if secret
    )
