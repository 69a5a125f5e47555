"""ETAs for every open stop: one geo Tracker per driver over that driver's run.

The run is rebuilt whenever the driver's stops change: each stop's leg is the route sent at
assignment, or a provisional straight line (with a detour factor, and `provisional` in the
ETA's confidence) from the previous stop, or from the courier's position for the first.
Models learned from the fleet's history (speed profile, window calibration) are swapped in
when the scheduled learning job publishes new ones.

With several processes, only the process that gets a driver's fixes runs its tracker; the
others adopt the ETAs it sends (cluster.py). The point the run's first leg starts from (the
anchor) travels with them, so every process draws the same legs, and a process that takes
the courier over rebuilds the same run: progress is found again along the same route rather
than starting over.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geo.calibration import Calibration
from geo.eta import StopEta
from geo.events import Event
from geo.model import Fix
from geo.route import Route, RouteError, parse_route, provisional_route
from geo.run import Stop, run_from_legs
from geo.speed_profile import SpeedProfile
from geo.tracker import Tracker
from server.live.runs import Runs, RunStop

log = logging.getLogger("tracker.etas")


@dataclass(frozen=True, slots=True)
class EtaModels:
    profile: SpeedProfile | None = None
    calibration: Calibration | None = None


@dataclass(frozen=True, slots=True)
class DriverUpdate:
    etas: dict[int, StopEta]  # by order id
    events: tuple[Event, ...]


def eta_view(eta: StopEta | None) -> dict[str, Any] | None:
    """An ETA as customers and dispatchers get it (the contract's field names)."""
    if eta is None:
        return None
    view = eta.to_json()
    del view["stop_id"]
    return view


class Etas:
    def __init__(self, runs: Runs, service_s: float, detour_factor: float) -> None:
        self._runs = runs
        self._service_s = service_s
        self._detour_factor = detour_factor
        self.models = EtaModels()
        self._trackers: dict[int, Tracker] = {}
        self._legs: dict[int, dict[str, Any]] = {}  # order id -> its leg as GeoJSON
        self._by_order: dict[int, StopEta] = {}
        self._anchors: dict[int, tuple[float, float]] = {}  # driver -> where its run starts
        # driver -> orders it put in _legs/_by_order: forgetting looks at these, not at all
        self._kept: dict[int, set[int]] = {}

    def eta(self, order_id: int) -> StopEta | None:
        return self._by_order.get(order_id)

    def view(self, order_id: int) -> dict[str, Any] | None:
        return eta_view(self._by_order.get(order_id))

    def leg(self, order_id: int) -> dict[str, Any] | None:
        return self._legs.get(order_id)

    def anchor(self, driver_id: int) -> tuple[float, float] | None:
        return self._anchors.get(driver_id)

    def driver_etas(self, driver_id: int) -> list[StopEta]:
        """The current ETAs of the driver's open stops, in run order."""
        by_order = self._by_order
        return [by_order[s.order_id] for s in self._runs.stops(driver_id) if s.order_id in by_order]

    def tracking(self, driver_id: int) -> bool:
        return driver_id in self._trackers

    def drop_tracker(self, driver_id: int) -> None:
        """Another process tracks the driver now; its ETAs come from there."""
        self._trackers.pop(driver_id, None)

    def adopt(
        self, driver_id: int, anchor: tuple[float, float] | None, etas: list[StopEta]
    ) -> None:
        """Take the ETAs (and the run's anchor) computed by the process tracking the driver."""
        stops = self._runs.stops(driver_id)
        if anchor is not None and (
            anchor != self._anchors.get(driver_id)
            or any(s.order_id not in self._legs for s in stops)
        ):
            self._anchors[driver_id] = anchor
            self._kept.setdefault(driver_id, set()).update(s.order_id for s in stops)
            start = anchor
            for stop in stops:
                self._legs[stop.order_id] = self._leg(stop, start).to_geojson()
                start = stop.destination
        given = {int(e.stop_id): e for e in etas}
        self._kept.setdefault(driver_id, set()).update(given)
        for stop in stops:
            eta = given.get(stop.order_id)
            if eta is not None:
                self._by_order[stop.order_id] = eta
            else:
                self._by_order.pop(stop.order_id, None)

    def run_changed(self, driver_id: int, last_fix: Fix | None) -> DriverUpdate | None:
        """Rebuild the driver's tracker; with a known position, ETAs come at once."""
        self._forget(driver_id)
        if last_fix is None or not self._runs.stops(driver_id):
            return None
        return self.on_fix(driver_id, last_fix)

    def on_fix(self, driver_id: int, fix: Fix) -> DriverUpdate | None:
        tracker = self._trackers.get(driver_id)
        if tracker is None:
            stops = self._runs.stops(driver_id)
            if not stops:
                return None
            tracker = self._trackers[driver_id] = self._build(driver_id, stops, fix)
        update = tracker.update(fix)
        if update.late:
            return None
        etas = {int(e.stop_id): e for e in update.etas}
        self._kept.setdefault(driver_id, set()).update(etas)
        for stop in self._runs.stops(driver_id):
            if stop.order_id in etas:
                self._by_order[stop.order_id] = etas[stop.order_id]
            else:  # reached or passed: no ETA any more
                self._by_order.pop(stop.order_id, None)
        return DriverUpdate(etas, update.events)

    def set_models(self, models: EtaModels) -> None:
        """New learned models: trackers are rebuilt on each driver's next fix."""
        self.models = models
        self._trackers.clear()

    def _forget(self, driver_id: int) -> None:
        """Drop the driver's tracker and anchor, and what is kept for its orders that are no
        longer on any run (O(the driver's orders), not O(every order))."""
        self._trackers.pop(driver_id, None)
        self._anchors.pop(driver_id, None)
        kept = self._kept.pop(driver_id, set())
        still = {o for o in kept if self._runs.driver_of(o) is not None}
        for order_id in kept - still:
            self._by_order.pop(order_id, None)
            self._legs.pop(order_id, None)
        if still:
            self._kept[driver_id] = still

    def _build(self, driver_id: int, stops: Sequence[RunStop], fix: Fix) -> Tracker:
        legs: list[tuple[Route, Stop]] = []
        start = self._anchors.setdefault(driver_id, (fix.lon, fix.lat))
        self._kept.setdefault(driver_id, set()).update(s.order_id for s in stops)
        for stop in stops:
            leg = self._leg(stop, start)
            self._legs[stop.order_id] = leg.to_geojson()
            legs.append((leg, Stop(str(stop.order_id), *stop.destination, self._service_s)))
            start = stop.destination
        models = self.models
        return Tracker(run_from_legs(legs), models.profile, models.calibration)

    def _leg(self, stop: RunStop, start: tuple[float, float]) -> Route:
        if stop.route is not None:
            try:
                return parse_route(stop.route)
            except RouteError as exc:  # checked at assignment; only an old row could fail
                log.warning("order %d: stored route unusable (%s)", stop.order_id, exc)
        return provisional_route(start, stop.destination, self._detour_factor)
