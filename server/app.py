"""The application factory: routes, and a lifespan that owns the pool, writer and jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from server import maintenance
from server.api import drivers, health
from server.ingest import driver_socket, http
from server.metrics import Metrics
from server.pipeline import Pipeline
from server.services import Services
from server.settings import Settings
from server.store.pool import create_pool
from server.store.writer import BatchWriter

log = logging.getLogger("tracker.app")

STARTUP_DB_WAIT_S = 30.0
SHUTDOWN_DRAIN_S = 10.0


class StartupError(RuntimeError):
    pass


async def _connect(settings: Settings) -> asyncpg.Pool:
    """The pool, waiting a while for a database that is still starting."""
    deadline = asyncio.get_running_loop().time() + STARTUP_DB_WAIT_S
    while True:
        try:
            return await create_pool(settings)
        except Exception as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise StartupError(
                    f"cannot use the database at DATABASE_URL ({exc!r}). Is PostgreSQL running "
                    "and migrated? Run `tracker migrate`, or ./scripts/run.sh which sets it all up."
                ) from exc
            await asyncio.sleep(0.5)


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        metrics = Metrics()
        pool = await _connect(settings)
        writer = BatchWriter(pool, settings, metrics)
        pipeline = Pipeline(settings, pool, writer, metrics)
        app.state.services = Services(settings, metrics, pool, writer, pipeline)
        await maintenance.maintain_once(pool, settings)
        writer.start()
        jobs = [asyncio.create_task(maintenance.run_forever(pool, settings))]
        try:
            yield
        finally:
            for job in jobs:
                job.cancel()
            await writer.close(SHUTDOWN_DRAIN_S)
            await pool.close()

    routes = [
        Route("/healthz", health.healthz),
        Route("/metrics", health.metrics),
        Route("/api/drivers", drivers.create_driver, methods=["POST"]),
        Route("/api/drivers", drivers.list_drivers, methods=["GET"]),
        Route("/api/drivers/{driver_id}", drivers.get_driver, methods=["GET"]),
        Route("/api/ingest", http.ingest, methods=["POST"]),
        WebSocketRoute("/ws/driver", driver_socket.driver_socket),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
