"""The application factory: routes, and a lifespan that owns the pool, writer and jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from server.base import gc_freeze
from server.base.dbguard import (
    RETRY_AFTER_S,
    UNAVAILABLE,
    DatabaseUnavailable,
    bounded_connection,
)
from server.base.metrics import Metrics, watch_loop_lag
from server.base.ratelimit import RateLimiter
from server.base.settings import Settings
from server.edges.net.connections import Connections
from server.edges.net.http_direct import DirectRoutes
from server.edges.net.socket_dispatch import SocketDispatch, SocketRoute
from server.edges.pages import page_routes
from server.edges.phone_apps import routes as apps
from server.edges.phone_apps.device_guard import DeviceGuard
from server.edges.responses import error_response, http_error, internal_error
from server.edges.rest import alerts as alerts_api
from server.edges.rest import bottlenecks, drivers, exports, health, insights, keys, openapi
from server.edges.rest import ingest as http
from server.edges.rest import notifications as notify_api
from server.edges.rest import orders as orders_api
from server.edges.rest import preferences as prefs_api
from server.edges.rest import proof as proof_api
from server.edges.rest import routing as routing_api
from server.edges.rest import self_service as self_api
from server.edges.services import Services
from server.edges.sockets import driver as driver_socket
from server.edges.sockets import watch
from server.edges.tiles import Basemap, tile_routes
from server.live.etas import Etas
from server.live.fleet import Fleet
from server.live.runs import Runs
from server.live.state import Live
from server.store import orders, queries
from server.store.pool import create_pool
from server.store.writer import BatchWriter
from server.transport.hub import Hub, MemoryHub
from server.transport.redis_hub import RedisHub
from server.usecases import insight_rollup, maintenance
from server.usecases import learning as eta_learning
from server.usecases.alerts import Alerts
from server.usecases.driver_cache import DriverCache
from server.usecases.ingest import Pipeline
from server.usecases.insights import gauges as insight_gauges
from server.usecases.insights.recorder import ArrivalRecorder
from server.usecases.leader import Leadership
from server.usecases.messages import RecentMessages
from server.usecases.notify.notifier import Notifier, measure_outbox_forever
from server.usecases.revocation import OpenSockets, RevocationListener
from server.usecases.router import Router
from server.usecases.routing import Routing
from server.usecases.tracking import TrackedReads

log = logging.getLogger("tracker.app")

STARTUP_DB_WAIT_S = 30.0
SHUTDOWN_DRAIN_S = 10.0
SHUTDOWN_STEP_S = 5.0


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


def _hub(settings: Settings, metrics: Metrics) -> Hub:
    """In-process fan-out, or Redis pub/sub between processes (`TRACKER_BUS`)."""
    if settings.bus == "memory":
        metrics.bus_connected.set(1)
        return MemoryHub()
    return RedisHub(settings, metrics=metrics)


async def _load_live(
    pool: asyncpg.Pool, settings: Settings, hub: Hub, notifier: Notifier, alerts: Alerts
) -> Live:
    """The live picture as PostGIS has it: drivers, latest positions, open runs."""
    runs = Runs(settings.courier_next_stop_only)
    etas = Etas(
        runs,
        settings.stop_service_s,
        settings.detour_factor,
        gc_freeze.freeze_built if settings.gc_freeze_interval_s > 0 else None,
        settings.insights_eta_sample_s if settings.insights_recording else None,
    )
    fleet = Fleet(runs, etas, settings.fleet_interval_ms / 1000.0, settings.offline_after_s)
    async with pool.acquire() as conn:
        runs.load(await orders.orders_on_runs(conn))
        for row in await queries.drivers_with_latest(conn):
            fleet.add_driver(row.driver.id, row.driver.name, row.driver.vehicle)
            if row.latest is not None:
                fleet.position(row.driver.id, row.latest)

    async def reload_runs() -> list[orders.Order]:
        async with pool.acquire() as conn:
            return await orders.orders_on_runs(conn)

    return Live(
        hub,
        runs,
        fleet,
        etas,
        notifier,  # the Listener of what live state finds off the fix path
        alerts,  # the AlertListener: stores and publishes dispatchers' alerts
        reload_runs,
        settings.bus_presence_ttl_s,
        clearance_m=settings.customer_route_clearance_m,
        offline_alert_s=settings.alert_offline_after_s,
    )


async def _bounded(what: str, step: Awaitable[object]) -> None:
    """One shutdown step, given at most SHUTDOWN_STEP_S: a stuck peer must not stop the
    process from exiting (whatever was acked is already stored)."""
    try:
        await asyncio.wait_for(step, SHUTDOWN_STEP_S)
    except TimeoutError:
        log.warning("shutdown: %s did not close within %.0f s; going on", what, SHUTDOWN_STEP_S)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    """Every REST handler's database work runs through Services.db(): when it runs out of
    time or the database fails, the client is told to come back, not kept waiting."""
    services: Services = request.app.state.services
    services.metrics.db_unavailable.labels("http").inc()
    return error_response(503, UNAVAILABLE, {"Retry-After": str(RETRY_AFTER_S)})


def create_app(settings: Settings, connections: Connections | None = None) -> SocketDispatch:
    """The app; `connections` (server/serve.py) puts the connection counts in /metrics."""
    metrics = Metrics()
    if connections is not None:
        metrics.registry.register(connections)
    basemap = Basemap(Path(settings.tiles_file), settings.tiles_max_age_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await _connect(settings)
        writer = BatchWriter(pool, settings, metrics)
        notifier = Notifier(pool, settings, metrics)
        await notifier.reload_subscriptions()
        hub = _hub(settings, metrics)
        alerts = Alerts(pool, hub, settings.db_request_timeout_s)
        live = await _load_live(pool, settings, hub, notifier, alerts)
        recorder = ArrivalRecorder(pool)  # GPS arrivals, for the performance record
        if settings.insights_recording:
            notifier.on_arrived = recorder.offer
        routing = Routing(settings, pool, live, Router(pool, settings))
        live.etas.on_run_changed = routing.run_changed
        pipeline = Pipeline(settings, pool, writer, live, notifier, metrics, routing=routing)
        limiter = RateLimiter(settings.track_lookups_per_min, settings.track_lookup_burst)
        sockets = OpenSockets(pool)
        # Forgotten entries: RevocationListener, driver_cache.py. Reads as Services.db's.
        drivers = DriverCache(lambda: bounded_connection(pool, settings.db_request_timeout_s))
        metrics.driver_cache_hits.set_function(lambda: drivers.hits)
        metrics.driver_cache_misses.set_function(lambda: drivers.misses)
        app.state.services = Services(
            settings, metrics, pool, writer, pipeline, live, limiter, notifier,
            DeviceGuard(settings), sockets, alerts,
            RecentMessages(pool, settings.db_request_timeout_s),
            TrackedReads(pool, settings.db_request_timeout_s),
            proof_slots=asyncio.Semaphore(settings.proof_concurrency), drivers=drivers,
            routing=routing,
        )  # fmt: skip
        await maintenance.maintain_once(pool, settings)
        writer.start()
        live.hub.start()
        leader = Leadership(settings)
        jobs = [
            asyncio.create_task(maintenance.run_forever(pool, settings, leader)),
            asyncio.create_task(live.run_forever()),
            asyncio.create_task(watch_loop_lag(metrics)),
            asyncio.create_task(gc_freeze.run_forever(settings, metrics)),
            asyncio.create_task(eta_learning.run_forever(pool, settings, leader, live.etas)),
            asyncio.create_task(RevocationListener(settings, sockets, drivers).run_forever()),
            asyncio.create_task(alerts.run()),
            asyncio.create_task(measure_outbox_forever(pool, metrics)),
            asyncio.create_task(insight_gauges.measure_forever(pool, settings, metrics)),
        ]
        if settings.insights_recording:  # the insights' record (issue 18), off the fix path
            jobs.append(asyncio.create_task(recorder.run()))
            jobs.append(
                asyncio.create_task(insight_rollup.run_forever(pool, settings, leader, metrics))
            )
        else:
            log.info("insights recording off (TRACKER_INSIGHTS_RECORDING): nothing new recorded")
        if settings.notify_enabled:
            jobs.append(asyncio.create_task(notifier.run()))
        unwatch_gc = metrics.stages.watch_gc()  # the collector's passes: a stage of their own
        try:
            yield
        finally:
            unwatch_gc()
            for job in jobs:
                job.cancel()
            await _bounded("background jobs", asyncio.gather(*jobs, return_exceptions=True))
            await _bounded("routing", routing.close())
            live.flush()  # couriers that left are offline for the other processes at once
            await _bounded("alerts", alerts.flush())
            await _bounded("leadership", leader.close())
            await _bounded("notifier", notifier.close())
            await _bounded("bus", live.hub.close())
            await writer.close(SHUTDOWN_DRAIN_S)  # bounded by its own drain timeout
            await _bounded("database pool", pool.close())
            basemap.close()

    # The routes that take a request per fix: served past Starlette's stack
    # (server/edges/net/http_direct.py); listed first in Starlette's too (other methods).
    per_fix = [
        Route("/osmand", apps.osmand, methods=["GET", "POST", "PUT", "HEAD"]),
        Route("/owntracks", apps.owntracks, methods=["POST"]),
        Route("/api/ingest", http.ingest, methods=["POST"]),
    ]
    routes = [
        *per_fix,
        Route("/livez", health.livez),
        Route("/readyz", health.readyz),
        Route("/healthz", health.readyz),  # the older name, kept for existing probes
        Route("/metrics", health.metrics),
        Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
        Route("/api/drivers", drivers.create_driver, methods=["POST"]),
        Route("/api/drivers", drivers.list_drivers, methods=["GET"]),
        Route("/api/drivers/{driver_id}", drivers.get_driver, methods=["GET"]),
        Route("/api/drivers/{driver_id}/token", drivers.rotate_token, methods=["POST"]),
        Route("/api/drivers/{driver_id}/messages", alerts_api.send_message, methods=["POST"]),
        Route("/api/drivers/{driver_id}/run/optimize", routing_api.optimize_run, methods=["POST"]),
        Route("/api/alerts", alerts_api.list_alerts, methods=["GET"]),
        Route("/api/alerts/{alert_id}/ack", alerts_api.ack_alert, methods=["POST"]),
        Route("/api/drivers/{driver_id}/track", exports.driver_track, methods=["GET"]),
        Route("/api/insights/summary", insights.summary, methods=["GET"]),
        Route("/api/insights/series", insights.series, methods=["GET"]),
        Route("/api/insights/drivers", insights.drivers, methods=["GET"]),
        Route("/api/insights/zones", insights.zones, methods=["GET"]),
        Route("/api/insights/bottlenecks", bottlenecks.layer, methods=["GET"]),
        Route("/api/insights/heatmap", bottlenecks.heatmap, methods=["GET"]),
        Route("/api/keys", keys.create_api_key, methods=["POST"]),
        Route("/api/keys", keys.list_api_keys, methods=["GET"]),
        Route("/api/keys/{key_id}", keys.revoke_api_key, methods=["DELETE"]),
        Route("/api/orders", orders_api.create_order, methods=["POST"]),
        Route("/api/orders", orders_api.list_orders, methods=["GET"]),
        Route("/api/orders/{order_id}", orders_api.get_order, methods=["GET"]),
        Route("/api/orders/{order_id}/status", orders_api.change_status, methods=["POST"]),
        Route("/api/orders/{order_id}/assign", orders_api.assign, methods=["POST"]),
        Route("/api/orders/{order_id}/track", exports.order_track, methods=["GET"]),
        Route("/api/orders/{order_id}/notifications", notify_api.order_notifications),
        Route("/api/orders/{order_id}/proof", proof_api.upload_proof, methods=["POST"]),
        Route("/api/orders/{order_id}/proof", proof_api.get_proof, methods=["GET"]),
        Route("/api/orders/{order_id}/proof/photo", proof_api.proof_photo, methods=["GET"]),
        Route("/api/orders/{order_id}/proof/photo/thumb", proof_api.proof_thumb, methods=["GET"]),
        Route("/api/orders/{order_id}/proof/signature", proof_api.proof_signature, methods=["GET"]),
        Route("/api/webhooks", notify_api.create_subscription, methods=["POST"]),
        Route("/api/webhooks", notify_api.list_subscriptions, methods=["GET"]),
        Route("/api/webhooks/{subscription_id}", notify_api.get_subscription, methods=["GET"]),
        Route(
            "/api/webhooks/{subscription_id}", notify_api.delete_subscription, methods=["DELETE"]
        ),
        Route(
            "/api/webhooks/{subscription_id}/enable",
            notify_api.enable_subscription,
            methods=["POST"],
        ),
        Route("/api/webhooks/{subscription_id}/deliveries", notify_api.subscription_deliveries),
        Route("/api/fleet", orders_api.fleet, methods=["GET"]),
        Route("/api/track/{code}", orders_api.track, methods=["GET"]),
        Route("/api/track/{code}/proof/photo", proof_api.customer_photo, methods=["GET"]),
        Route("/api/track/{code}/instructions", self_api.instructions, methods=["POST"]),
        Route("/api/track/{code}/issues", self_api.issues, methods=["POST"]),
        Route("/api/track/{code}/rating", self_api.rating, methods=["POST"]),
        Route("/api/track/{code}/reattempt", self_api.reattempt, methods=["POST"]),
        Route("/api/track/{code}/preferences", prefs_api.show, methods=["GET"]),
        Route("/api/track/{code}/preferences", prefs_api.change, methods=["POST"]),
        Route("/api/track/{code}/unsubscribe", prefs_api.unsubscribe, methods=["GET", "POST"]),
        # The same sockets as SocketDispatch serves directly (listed here for url_for/docs).
        WebSocketRoute("/ws/driver", driver_socket.driver_socket),
        WebSocketRoute("/ws/track/{code}", watch.track_socket),
        WebSocketRoute("/ws/fleet", watch.fleet_socket),
        *tile_routes(basemap, settings.base_url),
        *page_routes(settings, basemap),
    ]
    handlers: dict[Any, Any] = {
        DatabaseUnavailable: _database_unavailable,
        HTTPException: http_error,
        Exception: internal_error,
    }
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    return SocketDispatch(
        app,
        metrics,
        {
            "/ws/driver": SocketRoute("/ws/driver", "courier", driver_socket.driver_socket),
            "/ws/fleet": SocketRoute("/ws/fleet", "fleet", watch.fleet_socket),
        },
        {"/ws/track/": SocketRoute("/ws/track/{code}", "customer", watch.track_socket, "code")},
        DirectRoutes(app, per_fix, handlers),
    )
