"""Prometheus metrics, one registry per app (no module globals); docs/api.md lists them.

No `_created` series: a scraper gains nothing from each counter's creation time, and they
double the series count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from server.base.stage_times import StageTimes

SOCKET_KINDS = ("courier", "customer", "fleet")
NOTIFY_CHANNELS = ("email", "sms", "webhook")
NOTIFY_OUTCOMES = ("sent", "retry", "failed")
HTTP_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class CounterFunction(Collector):
    """A counter whose value something else keeps (read at each scrape)."""

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry) -> None:
        self._name, self._documentation = name, documentation
        self._read: Callable[[], float] = lambda: 0.0
        registry.register(self)

    def set_function(self, read: Callable[[], float]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self._name, self._documentation, self._read())


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # process-wide
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # process_*: CPU, memory, file descriptors
        PlatformCollector(registry=r)  # python_info
        GCCollector(registry=r)  # python_gc_*
        self.stages = StageTimes(r)  # tracker_fix_stage_seconds_total{stage}
        self.fixes_received = Counter(
            "tracker_fixes_received", "Fixes received from couriers (before validation)", registry=r
        )
        self.fixes_stored = Counter(
            "tracker_fixes_stored", "Fixes newly written to the position history", registry=r
        )
        self.fixes_duplicate = Counter(
            "tracker_fixes_duplicate", "Re-sent fixes that were already stored", registry=r
        )
        self.fixes_rejected = Counter(
            "tracker_fixes_rejected", "Fixes rejected, by rule", ["reason"], registry=r
        )
        self.frames_invalid = Counter(
            "tracker_frames_invalid", "Frames that were not courier messages", registry=r
        )
        self.batch_rows = Histogram(
            "tracker_write_batch_rows",
            "Rows per batched write",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=r,
        )
        self.batch_seconds = Histogram(
            "tracker_write_batch_seconds",
            "Time to write and commit one batch",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
            registry=r,
        )
        self.write_errors = Counter(
            "tracker_write_errors", "Failed batch writes (retried), by kind", ["kind"], registry=r
        )
        self.write_queue_rows = Gauge(
            "tracker_write_queue_rows", "Accepted fixes waiting to be stored", registry=r
        )
        self.loop_lag_seconds = Histogram(
            "tracker_event_loop_lag_seconds",
            "How late a 100 ms timer fires: the event loop's longest stalls",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.gc_thaw_seconds = Histogram(
            "tracker_gc_thaw_seconds",
            "Pauses of the periodic full garbage collection (server/base/gc_freeze.py)",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.drivers_connected = Gauge(
            "tracker_drivers_connected", "Open courier sockets", registry=r
        )
        self.bus_connected = Gauge(
            "tracker_bus_connected",
            "1 while the bus to the other processes (Redis) is connected; always 1 in-process",
            registry=r,
        )
        self.bus_reconnects = Counter(
            "tracker_bus_reconnects",
            "Connections to Redis made again after one was lost",
            registry=r,
        )
        self.db_unavailable = Counter(
            "tracker_db_unavailable",
            "Requests (http) and sockets (ws) answered 503/1013: the database did not answer",
            ["kind"],
            registry=r,
        )

        self.http_seconds = Histogram(
            "tracker_http_request_duration_seconds",
            "HTTP requests (count and duration) by route template, method and status class",
            ["route", "method", "status"],
            buckets=HTTP_SECONDS_BUCKETS,
            registry=r,
        )
        self.sockets_open = Gauge(
            "tracker_sockets_open", "Open WebSockets, by kind (handshake to close)", ["kind"],
            registry=r,
        )  # fmt: skip
        for kind in SOCKET_KINDS:
            self.sockets_open.labels(kind)
        self.bus_dropped = CounterFunction(
            "tracker_bus_dropped_messages",
            "Messages for the other processes dropped unsent: the queue to Redis was full, "
            "or Redis went away with them queued",
            r,
        )
        self.driver_cache_hits = CounterFunction(
            "tracker_driver_cache_hits",
            "Phone-app, HTTP-ingest and socket credentials resolved from memory",
            r,
        )
        self.driver_cache_misses = CounterFunction(
            "tracker_driver_cache_misses",
            "Credential look-ups that went to the database (unknown ones included)",
            r,
        )
        self.outbox_pending = Gauge(
            "tracker_outbox_pending_messages",
            "Notifications in the outbox not yet sent nor given up (all processes')",
            registry=r,
        )
        self.outbox_oldest_due_age = Gauge(
            "tracker_outbox_oldest_due_age_seconds",
            "How long the oldest notification due for sending has waited since it was "
            "written (0: none due)",
            registry=r,
        )
        # Delivery insights for the current operator-local day (usecases/insights/gauges.py):
        # NaN until something is counted.
        self.insights_on_time_rate = Gauge(
            "tracker_insights_on_time_rate",
            "Share of today's deliveries with a promise delivered by it (operator time zone)",
            registry=r,
        )
        self.insights_eta_mae = Gauge(
            "tracker_insights_eta_mae_seconds",
            "Mean absolute error of today's ETAs shown, against the GPS arrival, by horizon",
            ["horizon"],
            registry=r,
        )
        self.insight_rollup_behind = Gauge(
            "tracker_insight_rollup_behind_seconds",
            "How far the bottleneck rollup's watermark is behind the clock (normally about "
            "TRACKER_INSIGHT_ROLLUP_LAG_S; -1: never rolled up)",
            registry=r,
        )
        self.insight_rollup_behind.set(-1)
        self.notify_sends = Counter(
            "tracker_notification_sends",
            "Notification send attempts by channel and outcome (sent, retry, failed: given up)",
            ["channel", "outcome"],
            registry=r,
        )
        for channel in NOTIFY_CHANNELS:
            for outcome in NOTIFY_OUTCOMES:
                self.notify_sends.labels(channel, outcome)
        self._http_children: dict[tuple[str, str, str], Histogram] = {}

    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request; the labels must be bounded (a route template, not a path)."""
        key = (route, method, f"{status // 100}xx")
        child = self._http_children.get(key)
        if child is None:
            child = self._http_children[key] = self.http_seconds.labels(*key)
        child.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def watch_loop_lag(metrics: Metrics, interval_s: float = 0.1) -> None:
    """Record how late each timer fires; a blocked loop delays every socket at once."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(interval_s)
        metrics.loop_lag_seconds.observe(max(0.0, loop.time() - started - interval_s))
