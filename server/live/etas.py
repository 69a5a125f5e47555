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

import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from geo.calibration import Calibration
from geo.eta import StopEta
from geo.events import Event, EventKind
from geo.frozen import maker
from geo.model import Fix
from geo.route import Route, RouteError, parse_route, provisional_route
from geo.run import Stop, run_from_legs
from geo.speed_profile import SpeedProfile
from geo.tracker import Tracker, TrackUpdate
from server.live.eta_horizons import Horizons
from server.live.notices import Arrived
from server.live.runs import Runs, RunStop
from server.wire.live import EtaView, eta_view

log = logging.getLogger("tracker.etas")

# Longer runs get their tracker built on a worker thread. Building costs ~0.3 ms a stop
# (legs parsed, the route projected and indexed, expected times along it): on the event
# loop a 1,000-stop run would stall every socket for a third of a second. geo/ is pure and
# pyproj's transformers are thread-safe (>= 3.1); the thread hands the interpreter back to
# the loop every switch interval (5 ms). Shorter runs are built at once, on the loop.
BUILD_ON_LOOP_MAX_STOPS = 32
BUILD_SWITCH_INTERVAL_S = 0.001
# A build on the thread takes a step this many stops long: then it looks whether it is still
# wanted, and freezes what it built so far (server/base/gc_freeze.py, freeze_built).
BUILD_STEP_STOPS = 50


def _nothing(_: object) -> None:
    pass


class _Superseded(Exception):
    """The run changed again while its tracker was being built."""


_ORDER_ID = attrgetter("order_id")  # of a RunStop, without a Python call per stop

_Built = tuple[Tracker, dict[int, dict[str, Any]], TrackUpdate]


@dataclass(frozen=True, slots=True)
class EtaModels:
    profile: SpeedProfile | None = None
    calibration: Calibration | None = None


@dataclass(frozen=True, slots=True)
class DriverUpdate:
    etas: dict[int, StopEta]  # by order id
    events: tuple[Event, ...]
    arrived: tuple[Arrived, ...] = ()  # the GPS arrivals among the events, for the record


_driver_update = maker(DriverUpdate)  # one per fix: see geo/frozen.py


class Etas:
    def __init__(
        self,
        runs: Runs,
        service_s: float,
        detour_factor: float,
        freeze_built: Callable[[], None] | None = None,
        eta_sample_s: float | None = 60.0,
    ) -> None:
        self._runs = runs
        # The ETAs shown, for their accuracy; None: the insights' recording is off (no
        # samples, no GPS arrivals for the record).
        self.horizons = None if eta_sample_s is None else Horizons(eta_sample_s)
        self._freeze_built = freeze_built  # server/base/gc_freeze.py, when its freeze policy is on
        self._service_s = service_s
        self._detour_factor = detour_factor
        self.models = EtaModels()
        self._trackers: dict[int, Tracker] = {}
        self._legs: dict[int, dict[str, Any]] = {}  # order id -> its leg as GeoJSON
        self._by_order: dict[int, StopEta] = {}
        self._anchors: dict[int, tuple[float, float]] = {}  # driver -> where its run starts
        # driver -> orders it put in _legs/_by_order: forgetting looks at these, not at all
        self._kept: dict[int, set[int]] = {}
        self._building: dict[int, object] = {}  # driver -> its build in flight on the thread
        # driver -> (the fix a thread's tracker was built for, its update of it)
        self._first_updates: dict[int, tuple[Fix, TrackUpdate]] = {}
        self._builder: ThreadPoolExecutor | None = None  # one thread: builds queue up
        self.on_built: Callable[[int], None] | None = None  # a thread's tracker is in place
        # A run changed (usecases/routing.py routes its legs on the road network).
        self.on_run_changed: Callable[[int], None] | None = None
        # Why legs are provisional (usecases/routing.py): per order, or for every leg (no
        # network). Known where the routing was tried; shown in the leg's properties.
        self._route_notes: dict[int, str] = {}
        self._route_note_all: str | None = None

    def eta(self, order_id: int) -> StopEta | None:
        return self._by_order.get(order_id)

    def view(self, order_id: int) -> EtaView | None:
        return eta_view(self._by_order.get(order_id))

    def leg(self, order_id: int) -> dict[str, Any] | None:
        return self._legs.get(order_id)

    @property
    def detour_factor(self) -> float:
        """What provisional legs' lengths are stretched by (and a run's, when it has one)."""
        return self._detour_factor

    def anchor(self, driver_id: int) -> tuple[float, float] | None:
        return self._anchors.get(driver_id)

    def driver_etas(self, driver_id: int) -> list[StopEta]:
        """The current ETAs of the driver's open stops, in run order."""
        by_order = self._by_order
        return [by_order[s.order_id] for s in self._runs.stops(driver_id) if s.order_id in by_order]

    def building(self, driver_id: int) -> bool:
        """The driver's tracker is being built on the worker thread (ETAs follow)."""
        return driver_id in self._building

    def drop_tracker(self, driver_id: int) -> None:
        """Another process tracks the driver now; its ETAs come from there."""
        self._trackers.pop(driver_id, None)
        self._building.pop(driver_id, None)
        self._first_updates.pop(driver_id, None)

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
            self._kept.setdefault(driver_id, set()).update(map(_ORDER_ID, stops))
            start = anchor
            for stop in stops:
                self._legs[stop.order_id] = self._leg_view(stop, self._leg(stop, start))
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
        old = self._forget(driver_id)
        if self.on_run_changed is not None:
            self.on_run_changed(driver_id)
        update = None
        if last_fix is not None and self._runs.stops(driver_id):
            update = self.on_fix(driver_id, last_fix)
        self._let_go(old)  # behind the new build: freed on the thread once that is done
        return update

    def on_fix(self, driver_id: int, fix: Fix) -> DriverUpdate | None:
        """The tracker's update for a fix; None while the tracker is being built (its ETAs
        come when it is in place: `on_built`)."""
        tracker = self._trackers.get(driver_id)
        if tracker is None:
            stops = self._runs.stops(driver_id)
            if not stops or driver_id in self._building:
                return None
            start = self._anchors.setdefault(driver_id, (fix.lon, fix.lat))
            self._kept.setdefault(driver_id, set()).update(map(_ORDER_ID, stops))
            if len(stops) > BUILD_ON_LOOP_MAX_STOPS and self._build_on_thread(
                driver_id, stops, start, fix
            ):
                return None
            tracker, legs = self._build(stops, start, self.models)
            self._legs.update(legs)
            self._trackers[driver_id] = tracker
        first = self._first_updates.pop(driver_id, None)
        # The thread that built the tracker already took this fix in (see _built).
        update = first[1] if first is not None and first[0] is fix else tracker.update(fix)
        if update.late:
            return None
        etas = {int(e.stop_id): e for e in update.etas}
        self._kept.setdefault(driver_id, set()).update(etas)
        stops = self._runs.stops(driver_id)
        by_order = self._by_order
        for stop in stops:
            eta = etas.get(stop.order_id)
            if eta is not None:
                by_order[stop.order_id] = eta
            else:  # reached or passed: no ETA any more
                by_order.pop(stop.order_id, None)
        horizons, events = self.horizons, update.events
        if horizons is not None:
            horizons.observe(driver_id, fix.recorded_at, stops, etas)
        if horizons is None or not events:  # no events: most fixes
            return _driver_update(etas, events)
        arrived = tuple(
            Arrived(int(e.stop_id), driver_id, e.at, horizons.arrived(int(e.stop_id), e.at))
            for e in events
            if e.kind is EventKind.ARRIVED and e.stop_id is not None
        )
        return _driver_update(etas, events, arrived)

    def set_models(self, models: EtaModels) -> None:
        """New learned models: trackers are rebuilt on each driver's next fix."""
        self.models = models
        self._let_go(self._trackers)
        self._trackers = {}
        self._building.clear()  # what is in flight was built with the old ones
        self._first_updates.clear()

    def _forget(self, driver_id: int) -> Tracker | None:
        """Drop the driver's anchor, and what is kept for its orders that are no longer on
        any run (O(the driver's orders), not O(every order)); returns its tracker, for
        `_let_go`."""
        tracker = self._trackers.pop(driver_id, None)
        if self.horizons is not None:
            self.horizons.run_changed(driver_id)
        self._building.pop(driver_id, None)  # what is in flight is for the old run
        self._first_updates.pop(driver_id, None)
        self._anchors.pop(driver_id, None)
        kept = self._kept.pop(driver_id, set())
        still = self._runs.on_runs(kept)
        for order_id in kept - still:
            self._by_order.pop(order_id, None)
            self._legs.pop(order_id, None)
            self._route_notes.pop(order_id, None)
        if self.horizons is not None:
            self.horizons.forget(kept - still)
        if still:
            self._kept[driver_id] = still
        return tracker

    def _build_on_thread(
        self, driver_id: int, stops: Sequence[RunStop], start: tuple[float, float], fix: Fix
    ) -> bool:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False  # no event loop to keep free (a script): build here
        if self._builder is None:
            self._builder = ThreadPoolExecutor(1, thread_name_prefix="tracker-build")
            # While the thread computes, the loop waits for the interpreter after every
            # system call it makes, up to the switch interval (5 ms by default): a ping's
            # round trip took 6 ms, and a request's several calls 25-40 ms.
            sys.setswitchinterval(BUILD_SWITCH_INTERVAL_S)
        token = self._building[driver_id] = object()

        def wanted() -> bool:  # read on the thread: a dict lookup, safe under the GIL
            return self._building.get(driver_id) is token

        def step() -> None:
            if not wanted():  # the run changed again: building on would only take the
                raise _Superseded  # interpreter from the event loop
            if self._freeze_built is not None:
                self._freeze_built()  # see server/base/gc_freeze.py, freeze_built

        def build() -> _Built | None:
            tracker, legs = self._build(tuple(stops), start, self.models, step)
            if not wanted():
                return None
            # The first fix's update, per stop of the run, here too: on the loop it would
            # cost as much as a fix on a 1,000-stop run does (~10 ms).
            return tracker, legs, tracker.update(fix)

        def done(built: Future[_Built | None]) -> None:
            if not loop.is_closed():  # else the server stopped meanwhile
                loop.call_soon_threadsafe(self._built, driver_id, token, fix, built)

        self._builder.submit(build).add_done_callback(done)
        return True

    def _built(self, driver_id: int, token: object, fix: Fix, built: Future[_Built | None]) -> None:
        """On the loop: put a thread's tracker in place, unless the run (or the models, or
        the process tracking the driver) changed since it was started."""
        if self._building.get(driver_id) is not token:
            self._let_go(built)  # a tracker built for a run that changed since
            return
        del self._building[driver_id]
        try:
            result = built.result()
        except _Superseded:
            return
        except Exception as exc:  # a run geo cannot build; the next change tries again
            log.warning("driver %d: run not trackable (%r)", driver_id, exc)
            return
        if result is None:
            return
        tracker, legs, first = result
        self._let_go(list(map(self._legs.get, legs)))  # the legs these replace
        self._legs.update(legs)
        self._trackers[driver_id] = tracker
        self._first_updates[driver_id] = (fix, first)
        if self.on_built is not None:
            self.on_built(driver_id)

    def _let_go(self, garbage: object) -> None:
        """Have `garbage` freed on the worker thread, if there is one, after what is queued
        there: a 1,000-stop run's tracker is ~100,000 objects, and freeing them took 2-7 ms
        of the loop's change (the task's arguments are dropped on the thread once it has
        run). Freeing is C that holds the interpreter throughout, so not before the build
        queued meanwhile, while the loop is still answering the change."""
        if self._builder is not None and garbage is not None:
            self._builder.submit(_nothing, garbage)

    def _build(
        self,
        stops: Sequence[RunStop],
        start: tuple[float, float],
        models: EtaModels,
        step: Callable[[], None] = lambda: None,
    ) -> tuple[Tracker, dict[int, dict[str, Any]]]:
        """The tracker over `stops` from `start`, and each order's leg as GeoJSON. Touches no
        state of its own: it may run on the worker thread, which gets `step()` called
        between steps (every BUILD_STEP_STOPS stops, and around joining the legs)."""
        legs: list[tuple[Route, Stop]] = []
        views: dict[int, dict[str, Any]] = {}
        for i, stop in enumerate(stops):
            if i % BUILD_STEP_STOPS == 0:
                step()
            leg = self._leg(stop, start)
            views[stop.order_id] = self._leg_view(stop, leg)
            legs.append((leg, Stop(str(stop.order_id), *stop.destination, self._service_s)))
            start = stop.destination
        step()
        run = run_from_legs(legs)
        step()
        return Tracker(run, models.profile, models.calibration), views

    def set_route_note(self, order_id: int | None, note: str | None) -> None:
        """Why the order's leg (None: every leg) is provisional, None when it is not (set
        by usecases/routing.py); a leg already built shows it at once."""
        if order_id is None:
            if note != self._route_note_all:  # a flip (network gone or back): rare, O(legs)
                self._route_note_all = note
                for leg_order, view in self._legs.items():
                    if view["properties"].get("provisional"):
                        own = self._route_notes.get(leg_order) or note
                        view["properties"].pop("route_note", None)
                        if own is not None:
                            view["properties"]["route_note"] = own
            return
        if note is None:
            self._route_notes.pop(order_id, None)
        else:
            self._route_notes[order_id] = note
        shown = self._legs.get(order_id)
        if shown is not None and shown["properties"].get("provisional"):
            shown["properties"].pop("route_note", None)
            if (note or self._route_note_all) is not None:
                shown["properties"]["route_note"] = note or self._route_note_all

    def _leg_view(self, stop: RunStop, leg: Route) -> dict[str, Any]:
        """The leg as GeoJSON; a provisional one says why it is not routed (`route_note`),
        a routed one where it came from (`source`, usecases/routing.py)."""
        view = leg.to_geojson()
        if leg.provisional:
            note = self._route_notes.get(stop.order_id) or self._route_note_all
            if note is not None:
                view["properties"]["route_note"] = note
        elif isinstance(stop.route, dict) and isinstance(stop.route.get("properties"), dict):
            source = stop.route["properties"].get("source")
            if isinstance(source, str):
                view["properties"]["source"] = source
        return view

    def _leg(self, stop: RunStop, start: tuple[float, float]) -> Route:
        if stop.route is not None:
            try:
                return parse_route(stop.route)
            except RouteError as exc:  # checked at assignment; only an old row could fail
                log.warning("order %d: stored route unusable (%s)", stop.order_id, exc)
        return provisional_route(start, stop.destination, self._detour_factor)
