"""Prometheus metrics, one registry per app (no module globals)."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
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
            "Pauses of the periodic full garbage collection (server/base/heap.py)",
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

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def watch_loop_lag(metrics: Metrics, interval_s: float = 0.1) -> None:
    """Record how late each timer fires; a blocked loop delays every socket at once."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(interval_s)
        metrics.loop_lag_seconds.observe(max(0.0, loop.time() - started - interval_s))
