"""When the dispatchers' stored alerts are raised: live state finds the moment, the
`AlertListener` (usecases/alerts.py) stores and publishes.

Each alert is raised once per episode, so that an acknowledged alert does not come back
while its cause lasts:
- off_route: geo's OFF_ROUTE event, which the tracker emits once per departure;
- late: an order on a run, once, the first time it is late (past its promise, or expected
  after it: server/domain/lateness.py), judged on the tracker's news;
- offline: a driver with open stops whose newest fix is older than `offline_after_s`,
  once until a newer fix arrives; judged by `check_silent`, every few seconds;
- failed: an order whose status became failed (on the process that committed it).
The store keeps at most one open alert per (kind, driver, order) besides (processes that
raise the same episode store it once).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from geo.events import EventKind
from server.domain.lifecycle import Status
from server.live.etas import DriverUpdate
from server.live.fleet import Fleet
from server.live.notices import AlertListener, Raised
from server.live.runs import Runs
from server.store.orders import Order, TimelineEntry

# Tracker events stored as alerts (the others are published live only: live/state.py).
STORED_EVENTS = frozenset({EventKind.OFF_ROUTE})


class Alerting:
    def __init__(
        self, runs: Runs, fleet: Fleet, listener: AlertListener, offline_after_s: float
    ) -> None:
        self._runs = runs
        self._fleet = fleet
        self._listener = listener
        self._offline_after_s = offline_after_s
        self._late: set[int] = set()  # orders alerted late (pruned to those on runs)
        self._silent: set[int] = set()  # drivers alerted offline since their newest fix

    def fresh_fix(self, driver_id: int) -> None:
        self._silent.discard(driver_id)

    def tracker_news(self, driver_id: int, update: DriverUpdate) -> None:
        """Off-route events, and stops that became late."""
        raised: list[Raised] = []
        if update.events:  # none, on most fixes
            raised = [
                Raised(event.kind.value, driver_id, None, event.at, event.detail or None)
                for event in update.events
                if event.kind in STORED_EVENTS
            ]
        fleet = self._fleet
        now: datetime | None = None
        for stop in self._runs.stops(driver_id):
            if stop.due_by is None or stop.order_id in self._late:
                continue
            now = now or fleet.now()
            if fleet.is_late(stop, now):
                self._late.add(stop.order_id)
                raised.append(Raised("late", driver_id, stop.order_id, now, None))
        if raised:
            self._listener.alerts_raised(raised)

    def status_changed(self, order: Order, entry: TimelineEntry) -> None:
        if entry.status is Status.FAILED:
            raised = Raised("failed", order.driver_id, order.id, entry.at, entry.note)
            self._listener.alerts_raised([raised])

    def check_silent(self, ours: Callable[[int], bool]) -> None:
        """Drivers with open stops gone silent: an `offline` alert each, once until their
        next fix. `ours`: whether this process speaks for the driver (it tracks it, or no
        process does yet), so that one process raises it."""
        now = self._fleet.now()
        runs = self._runs
        raised: list[Raised] = []
        for driver in self._fleet.drivers.values():
            last = driver.last_fix_at
            if (
                last is None
                or driver.id in self._silent
                or (now - last).total_seconds() < self._offline_after_s
                or not runs.stops(driver.id)
                or not ours(driver.id)
            ):
                continue
            self._silent.add(driver.id)
            detail = f"no fix for {int((now - last).total_seconds() // 60)} min"
            raised.append(Raised("offline", driver.id, None, now, detail))
        self._late &= {o for o in self._late if runs.driver_of(o) is not None}
        if raised:
            self._listener.alerts_raised(raised)
