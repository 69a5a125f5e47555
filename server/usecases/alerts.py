"""Dispatchers' alerts: stored, then published with their id; acknowledged once, shared.

Live state finds most of them (server/live/alerting.py) and hands them to `alerts_raised`,
which only queues: the fix path never waits on the database. One task drains the queue,
a batch at a time, into one INSERT each (store/alerts.py; at most one open alert per
(kind, driver, order): a repeat while one is open stores nothing and sends nothing) and
publishes what was stored on the dispatchers' topic, so every process's dispatchers get
it. Use-cases raise theirs with `raise_alert` (courier actions: far_from_address; the
delivery PIN: pin_locked), which stores and publishes at once.

The queue is bounded (`MAX_QUEUED`); past it new alerts are dropped and logged: a flood of
alerts is a fault elsewhere, and memory must stay bounded. While the database is away the
batch in hand is retried, and the queue fills.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from server.base.dbguard import bounded_connection
from server.live.notices import Raised
from server.store import alerts as store
from server.transport.hub import ALERTS_TOPIC, Hub
from server.wire import alerts as wire
from server.wire import live

log = logging.getLogger("tracker.alerts")

MAX_QUEUED = 10_000
MAX_BATCH = 500
RETRY_S = 1.0


class Alerts:
    def __init__(self, pool: asyncpg.Pool, hub: Hub, db_timeout_s: float) -> None:
        self._pool = pool
        self._hub = hub
        self._db_timeout_s = db_timeout_s
        self._queue: asyncio.Queue[Raised] = asyncio.Queue(MAX_QUEUED)
        self._in_hand: list[Raised] = []  # taken from the queue, not stored yet
        self.dropped = 0

    # live.notices.AlertListener
    def alerts_raised(self, alerts: Sequence[Raised]) -> None:
        for alert in alerts:
            try:
                self._queue.put_nowait(alert)
            except asyncio.QueueFull:
                self.dropped += 1
                log.warning("alert queue full: %s, driver %s dropped", alert.kind, alert.driver_id)

    async def raise_alert(
        self,
        kind: str,
        driver_id: int | None,
        order_id: int | None,
        at: datetime,
        detail: str | None = None,
    ) -> store.Alert | None:
        """Store and publish one alert now (after the caller's commit); None when the same
        alert is already open."""
        async with bounded_connection(self._pool, self._db_timeout_s) as conn:
            stored = await store.raise_alerts(
                conn, [store.NewAlert(kind, driver_id, order_id, at, detail)]
            )
        self._publish(stored)
        return stored[0] if stored else None

    async def ack(self, alert_id: int, actor: str, now: datetime) -> store.Alert | None:
        """Acknowledge the alert (the first acknowledgement stays) and tell every dispatcher
        when this was it; None when there is no such alert."""
        async with bounded_connection(self._pool, self._db_timeout_s) as conn:
            found = await store.ack_alert(conn, alert_id, actor, now)
        if found is None:
            return None
        alert, first = found
        if first and alert.acked_by is not None and alert.acked_at is not None:
            ack = wire.AlertAck(alert.id, alert.acked_by, alert.acked_at)
            self._hub.publish(ALERTS_TOPIC, wire.encode(ack))
        return alert

    async def run(self) -> None:
        """Drain the queue for good: a batch per INSERT, published once stored."""
        queue = self._queue
        while True:
            self._in_hand = [await queue.get()]
            self._take(MAX_BATCH)
            while True:
                try:
                    await self._store_in_hand()
                    break
                except Exception as exc:  # the database away: keep the batch, try again
                    log.warning("%d alerts not stored yet: %r", len(self._in_hand), exc)
                    await asyncio.sleep(RETRY_S)

    async def flush(self) -> None:
        """At shutdown, after `run` is cancelled: store and publish what is still queued."""
        self._take(MAX_QUEUED)
        if self._in_hand:
            await self._store_in_hand()

    def _take(self, up_to: int) -> None:
        queue, batch = self._queue, self._in_hand
        while len(batch) < up_to and not queue.empty():
            batch.append(queue.get_nowait())

    async def _store_in_hand(self) -> None:
        new = [
            store.NewAlert(a.kind, a.driver_id, a.order_id, a.at, a.detail) for a in self._in_hand
        ]
        async with bounded_connection(self._pool, self._db_timeout_s) as conn:
            stored = await store.raise_alerts(conn, new)
        self._in_hand = []
        self._publish(stored)

    def _publish(self, stored: Sequence[store.Alert]) -> None:
        for alert in stored:
            message = live.Alert(
                alert.kind, alert.driver_id, alert.order_id, alert.at, alert.detail, alert.id
            )
            self._hub.publish(ALERTS_TOPIC, live.encode(message))
