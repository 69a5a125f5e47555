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

import asyncio
import math

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from server.base.auth import is_admin, presented_token
from server.base.dbguard import bounded_connection
from server.base.settings import Settings
from server.edges.responses import UNAUTHORIZED_HEADERS, error_response, json_response
from server.edges.services import Services
from server.store import health as database
from server.transport.hub import Hub
from server.transport.redis_hub import RedisHub
from server.wire.rest import Alive, Readiness

PROBE_TTL_S = 1.0  # how long one database ping answers /readyz for
HEALTH_TIMEOUT_S = 2.0


async def livez(request: Request) -> Response:
    return json_response(Alive())


class _DatabaseProbe:
    """The database's readiness, asked by one ping at a time and kept PROBE_TTL_S: anyone
    may call /readyz, and a flood of them must not take the request pool's connections."""

    def __init__(self) -> None:
        self._answer = ""
        self._at_m = -math.inf
        self._ping: asyncio.Task[str] | None = None

    async def answer(self, services: Services) -> str:
        loop = asyncio.get_running_loop()
        if loop.time() - self._at_m < PROBE_TTL_S:
            return self._answer
        if self._ping is None:
            self._ping = loop.create_task(_database(services))
            self._ping.add_done_callback(self._pinged)
        return await asyncio.shield(self._ping)  # a caller that leaves cancels no one

    def _pinged(self, ping: asyncio.Task[str]) -> None:
        self._ping = None
        if not ping.cancelled():
            self._answer, self._at_m = ping.result(), asyncio.get_running_loop().time()


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    state = request.app.state
    if not hasattr(state, "database_probe"):
        state.database_probe = _DatabaseProbe()
    database = await state.database_probe.answer(services)
    writes = "ok" if services.writer.healthy else "retrying"
    bus = _bus(services.live.hub)
    ok = database == "ok" and writes == "ok" and bus == "ok"
    body = Readiness("ok" if ok else "degraded", database, writes, services.writer.depth, bus)
    return json_response(body, 200 if ok else 503)


async def _database(services: Services) -> str:
    try:
        budget_s = min(HEALTH_TIMEOUT_S, services.settings.db_request_timeout_s)
        async with bounded_connection(services.pool, budget_s) as conn:
            await database.ping(conn)
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
    return is_admin(token, settings.metrics_token) or is_admin(token, settings.admin_token)
