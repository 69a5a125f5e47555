"""The live layer's entry points for the pipeline and the order API.

A fix is two calls, stages of the ingest pipeline (usecases/ingest.py): `on_fix` updates
the live state (fleet position, tracker and ETAs, clearance) and returns what happened;
`publish` sends it, after validation and before storage (a customer sees the courier move
at once; durability is the writer's business). Each message is encoded once. What
customers are told about (arrivals, delays) is returned to the pipeline, or, off the fix
path, given to the `Listener` (notices.py): live state never calls a use-case.

With several processes (cluster.py), a driver is tracked (tracker, ETAs, events,
notifications) by the process its newest fix arrived at; order changes are applied by
every process, and ETAs are recomputed only where the driver is tracked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from geo.events import EventKind
from geo.frozen import maker
from geo.model import Fix
from server.domain.lifecycle import COURIER_VISIBLE
from server.live.alerting import STORED_EVENTS, Alerting
from server.live.clearance import Clearance
from server.live.cluster import Cluster, DriverFacts, OrderChanged
from server.live.courier_runs import CourierRuns
from server.live.etas import DriverUpdate, Etas
from server.live.fleet import Fleet
from server.live.notices import AlertListener, FixUpdate, Listener, notices_of
from server.live.runs import Runs
from server.store.orders import Order, TimelineEntry
from server.store.queries import Driver
from server.transport.hub import ALERTS_TOPIC, ETA_KEY, POSITION_KEY, Hub, order_topic
from server.wire import live as wire

# Drivers per slice of the periodic fleet work: a few milliseconds, then sockets get a turn.
FLUSH_SLICE_DRIVERS = 250
SILENT_CHECK_S = 10.0  # how often drivers gone silent are looked for (offline alerts),
# or four times per `offline_alert_s` if that is shorter
_fix_update = maker(FixUpdate)  # one per fix: see geo/frozen.py


class Live:
    def __init__(
        self,
        hub: Hub,
        runs: Runs,
        fleet: Fleet,
        etas: Etas,
        listener: Listener,
        alerts: AlertListener,
        reload_runs: Callable[[], Awaitable[list[Order]]] | None = None,
        presence_ttl_s: float = 30.0,
        clearance_m: float = 300.0,
        offline_alert_s: float = 300.0,
    ) -> None:
        self.hub = hub
        self.runs = runs
        self.fleet = fleet
        self.etas = etas
        self._listener = listener  # the notifier (app.py), for notices off the fix path
        self.clearance = Clearance(runs, etas, clearance_m)
        self.alerting = Alerting(runs, fleet, alerts, offline_alert_s)  # the stored alerts
        self._silent_check_s = min(SILENT_CHECK_S, offline_alert_s / 4)
        try:  # a run's message built on a loop turn of its own (courier_runs.py)
            defer: Callable[[Callable[[], None]], object] | None = (
                asyncio.get_running_loop().call_soon
            )
        except RuntimeError:  # no loop (pure tests): at once
            defer = None
        self.courier_runs = CourierRuns(hub, runs, etas, defer=defer)  # to their socket
        # Per driver, so bounded by the drivers table (as fleet.drivers is):
        self._last_fix: dict[int, Fix] = {}
        self._arrived_at: dict[int, datetime] = {}  # order -> tracker's arrival, while visible
        self._tracked_by: dict[int, str] = {}  # driver -> the process tracking it (its fixes)
        self.cluster = Cluster(hub, self, presence_ttl_s, reload_runs)
        hub.attach(self.cluster)
        etas.on_built = self._tracker_built

    @property
    def origin(self) -> str:
        return self.hub.origin

    def on_fix(self, driver: Driver, fix: Fix, app: str = "own_page") -> FixUpdate:
        """A fix that is the driver's newest (late fixes never come here): the live state
        takes it in; returns what changed, for `publish` and the notifier. `app`: the
        phone app that sent it (fleet.py's DriverState.app)."""
        driver_id, fleet = driver.id, self.fleet
        fleet.add_driver(driver_id, driver.name, driver.vehicle)
        self._last_fix[driver_id] = fix
        self._tracked_by[driver_id] = self.hub.origin
        fleet.changed_here.add(driver_id)
        self.alerting.fresh_fix(driver_id)
        courier = fleet.position(driver_id, fix, app)
        tracked = self.etas.on_fix(driver_id, fix)
        shown: list[tuple[int, bool]] = []
        visible = self.runs.visible_orders(driver_id)
        if visible:
            near = self.clearance.near(driver_id, fix.lon, fix.lat)
            for order_id in visible:
                # At (or near) another customer's door: that customer's secret.
                shown.append((order_id, bool(near) and any(o != order_id for o in near)))
        notices = [] if tracked is None else notices_of(self.runs.stops(driver_id), tracked)
        return _fix_update(driver_id, courier, shown, tracked, notices)

    def publish(self, update: FixUpdate) -> None:
        """A fix's update to its watchers: the courier's position to each order that sees
        it, the tracker's news to the order's watchers and the dispatchers' alerts."""
        for order_id, withheld in update.shown:
            self._publish_position(order_id, update.courier, withheld)
        if update.tracked is not None:
            self._publish_events(update.driver_id, update.tracked)

    def last_fix(self, driver_id: int) -> Fix | None:
        """The driver's newest fix known here (from any process), however old."""
        return self._last_fix.get(driver_id)

    def _recent_fix(self, driver_id: int) -> Fix | None:
        """The driver's last fix if it still says where the courier is (not stale)."""
        fix = self._last_fix.get(driver_id)
        driver = self.fleet.drivers.get(driver_id)
        return fix if fix is not None and driver is not None and driver.online else None

    def _publish_position(
        self, order_id: int, courier: wire.Position | None, withheld: bool = False
    ) -> None:
        """`courier` None: hidden from this order (never dropped: nothing follows it);
        `withheld`: visible, but near another stop, so the position is left out (the ETA
        still goes, and the next position supersedes it)."""
        eta = self._customer_eta(self.etas.view(order_id), withheld) if courier else None
        before = self.runs.stops_before(order_id)
        message = wire.PositionMessage(None if withheld else courier, eta, before)
        # Showing the courier conflates with the next position; hiding it never drops.
        key = POSITION_KEY if courier is not None else None
        self.hub.publish(order_topic(order_id), wire.encode(message), key)

    def run_changed(self, driver_id: int, here: bool) -> None:
        """The driver's run changed (by a change committed `here`, or on another process):
        the tracking process rebuilds its tracker and publishes what that changes."""
        self.fleet.run_changed(driver_id)
        self.clearance.run_changed(driver_id)
        tracker = self._tracked_by.get(driver_id)
        if tracker == self.origin or (tracker is None and here):
            update = self.etas.run_changed(driver_id, self._recent_fix(driver_id))
            if update is not None:
                self._tracked_by[driver_id] = self.origin
                self._tell(driver_id, update)
            self.fleet.changed_here.add(driver_id)
        else:  # its new ETAs come from the process tracking it
            self.etas.run_changed(driver_id, None)
        if here:  # the courier's socket hears of it once, from where it was committed
            self.courier_runs.changed(driver_id)

    def _tracker_built(self, driver_id: int) -> None:
        """A tracker built on the worker thread is in place: the ETAs from the newest fix,
        published as a rebuild on the loop would have."""
        fix = self._recent_fix(driver_id)
        if fix is None or self._tracked_by.get(driver_id, self.origin) != self.origin:
            return
        update = self.etas.on_fix(driver_id, fix)
        if update is not None:
            self._tracked_by[driver_id] = self.origin
            self._tell(driver_id, update)
        self.fleet.changed_here.add(driver_id)
        self.fleet.run_changed(driver_id)
        self.courier_runs.etas_moved(driver_id)  # its stops have ETAs now (paced)

    async def run_forever(self) -> None:
        """Every fleet interval: announce what changed here, then the dispatchers' deltas,
        a slice of drivers at a time with the sockets served in between."""
        loop = asyncio.get_running_loop()
        silent_check_m = loop.time() + self._silent_check_s
        while True:
            await asyncio.sleep(self.fleet.interval_s)
            for _ in self._flush_slices(FLUSH_SLICE_DRIVERS):
                await asyncio.sleep(0)
            if loop.time() >= silent_check_m:
                silent_check_m = loop.time() + self._silent_check_s
                self.alerting.check_silent(self._speaks_for)

    def _speaks_for(self, driver_id: int) -> bool:
        """This process tracks the driver, or no process does (yet)."""
        return self._tracked_by.get(driver_id, self.origin) == self.origin

    def flush(self) -> None:
        for _ in self._flush_slices(len(self.fleet.drivers) or 1):
            pass

    def _flush_slices(self, slice_drivers: int) -> Iterator[None]:
        self.courier_runs.flush()
        yield from self.cluster.announce_slices(False, slice_drivers)
        yield from self.fleet.flush_slices(slice_drivers)

    def _tell(self, driver_id: int, update: DriverUpdate) -> None:
        """The tracker's news off the fix path: to the watchers, and to the listener."""
        notices = notices_of(self.runs.stops(driver_id), update)
        self._publish_events(driver_id, update)
        self._listener.live_notices(notices)

    def _publish_events(self, driver_id: int, update: DriverUpdate) -> None:
        """Material ETA changes to the order's watchers (and the courier's run); the rest to
        dispatchers' alerts, those stored (alerting.py) once stored, with their id."""
        moved = False
        for event in update.events:
            order_id = None if event.stop_id is None else int(event.stop_id)
            if event.kind is EventKind.ETA_CHANGED:
                moved = True
                if order_id is not None and self.runs.courier_visible(order_id):
                    shown = self._customer_eta(
                        wire.eta_view(update.etas.get(order_id)), self.withheld(order_id)
                    )
                    before = self.runs.stops_before(order_id)
                    message = wire.encode(wire.eta_message(shown, before))
                    self.hub.publish(order_topic(order_id), message, ETA_KEY)
                continue
            if event.kind is EventKind.ARRIVED and order_id is not None:
                self._arrived_at[order_id] = event.at  # dropped when the order changes
                if self.runs.courier_visible(order_id):
                    arrived = wire.encode(wire.ArrivedMessage(event.at))
                    self.hub.publish(order_topic(order_id), arrived)
            if event.kind in STORED_EVENTS:
                continue
            alert = wire.Alert(
                event.kind.value, driver_id, order_id, event.at, event.detail or None
            )
            self.hub.publish(ALERTS_TOPIC, wire.encode(alert))
        self.alerting.tracker_news(driver_id, update)
        self.courier_runs.tracker_news(driver_id, moved=moved, has_etas=bool(update.etas))

    def arrived_at(self, order_id: int) -> datetime | None:
        """When the tracker (here) saw the courier arrive at the order's door."""
        return self._arrived_at.get(order_id)

    def customer_eta(self, order_id: int) -> wire.EtaView | None:
        """The order's ETA as its customer may see it (see `_customer_eta`)."""
        return self._customer_eta(self.etas.view(order_id), self.withheld(order_id))

    @staticmethod
    def _customer_eta(eta: wire.EtaView | None, withheld: bool) -> wire.EtaView | None:
        """Without `remaining_m` while the courier is withheld near another stop: the road
        distance left, against the route shown (which starts clear of that stop), would
        measure out where that stop is."""
        return wire.without_distance(eta) if eta is not None and withheld else eta

    def withheld(self, order_id: int) -> bool:
        """The courier is near another stop than this order's: its position is withheld."""
        driver_id = self.runs.driver_of(order_id)
        driver = None if driver_id is None else self.fleet.drivers.get(driver_id)
        position = None if driver is None else driver.position
        return (
            driver_id is not None
            and position is not None
            and self.clearance.hides(driver_id, order_id, position.lon, position.lat)
        )

    def courier_for(self, order_id: int) -> wire.Position | None:
        """The courier's position as this order's customer may see it, or None (hidden,
        unknown, or withheld near another stop)."""
        if not self.runs.courier_visible(order_id):
            return None
        driver_id = self.runs.driver_of(order_id)
        driver = None if driver_id is None else self.fleet.drivers.get(driver_id)
        position = None if driver is None else driver.position
        return None if position is None or self.withheld(order_id) else position

    def customer_route(self, order_id: int) -> dict[str, Any] | None:
        """The order's leg as its customer may see it (see clearance.py), or None."""
        if not self.runs.courier_visible(order_id):
            return None
        return self.clearance.route(order_id)

    def on_order_changed(
        self,
        before: Order | None,
        after: Order,
        entry: TimelineEntry | None,
        shifted: Sequence[tuple[int, int]] = (),
    ) -> None:
        """After a committed change: the other processes told first (so they apply it before
        they see what follows), status to the order's watchers, and couriers shown or hidden
        on every order whose visibility the change flipped.

        `shifted`: (order id, stop index) of the stops of `after`'s driver that its
        insertion moved down, taken in with it as one change: each run it touches is
        rebuilt once, whatever the number of stops.
        """
        self.cluster.order_changed(after, shifted, self._label(after.driver_id))
        if (
            after.status not in COURIER_VISIBLE
            or before is None
            or before.driver_id != after.driver_id
        ):
            self._arrived_at.pop(after.id, None)
        drivers = {
            d for d in (before.driver_id if before else None, after.driver_id) if d is not None
        }
        was_visible = self._visible_on(drivers)
        changed = self.runs.apply(after)
        if after.driver_id is not None and shifted:
            changed |= self.runs.reindex(after.driver_id, shifted)
        for driver_id in changed:
            self.run_changed(driver_id, here=True)
        now_visible = self._visible_on(drivers)
        if entry is not None:
            self.alerting.status_changed(after, entry)
            status = wire.StatusMessage(
                entry.status.value, entry.at, entry.note, self.courier_for(after.id)
            )
            self.hub.publish(order_topic(after.id), wire.encode(status))
        for order_id in was_visible ^ now_visible:
            if order_id == after.id and entry is not None:
                continue  # the status message already says whether the courier shows
            self._publish_position(order_id, self.courier_for(order_id))

    def _visible_on(self, drivers: set[int]) -> set[int]:
        """Orders on these drivers' runs whose customers may see the courier."""
        return {o for d in drivers for o in self.runs.visible_orders(d)}

    def _label(self, driver_id: int | None) -> tuple[str, str | None] | None:
        """The driver's name and vehicle, if known here."""
        driver = None if driver_id is None else self.fleet.drivers.get(driver_id)
        return None if driver is None else (driver.name, driver.vehicle)

    # What the cluster calls (cluster.LiveState) -------------------------------------------
    def courier_visible(self, order_id: int) -> bool:
        return self.runs.courier_visible(order_id)

    def drivers_to_announce(self, connected: bool, tracked: bool) -> list[int]:
        changed = self.fleet.changed_here
        if connected:
            changed.update(d.id for d in self.fleet.drivers.values() if d.connections > 0)
        if tracked:
            changed.update(d for d, origin in self._tracked_by.items() if origin == self.origin)
        batch = list(changed)
        changed.clear()  # what changes from here on goes in the next round
        return batch

    def report(self, driver_id: int) -> DriverFacts | None:
        driver = self.fleet.drivers.get(driver_id)
        if driver is None:
            return None
        tracking = self._tracked_by.get(driver_id) == self.origin
        return DriverFacts(
            self.origin,
            driver_id,
            driver.name,
            driver.vehicle,
            self._last_fix.get(driver_id),
            driver.connections,
            tracking,
            self.etas.anchor(driver_id) if tracking else None,
            self.etas.driver_etas(driver_id) if tracking else [],
            driver.app,
        )

    def take_report(self, facts: DriverFacts, expires_m: float) -> None:
        driver_id = facts.driver_id
        fleet = self.fleet
        fleet.add_driver(driver_id, facts.name, facts.vehicle)
        fleet.remote_presence(driver_id, facts.origin, facts.connections, expires_m)
        known = self._last_fix.get(driver_id)
        fix = facts.fix
        tracked_by = self._tracked_by
        if fix is not None and (known is None or fix.recorded_at > known.recorded_at):
            self._last_fix[driver_id] = fix
            fleet.position(driver_id, fix, facts.app)
            self.alerting.fresh_fix(driver_id)
            if facts.tracking and tracked_by.get(driver_id) != facts.origin:
                tracked_by[driver_id] = facts.origin  # the courier moved over there
                self.etas.drop_tracker(driver_id)
        elif facts.tracking and tracked_by.get(driver_id) is None:
            tracked_by[driver_id] = facts.origin
        if facts.tracking and tracked_by.get(driver_id) == facts.origin:
            self.etas.adopt(driver_id, facts.anchor, facts.etas)
            fleet.run_changed(driver_id)

    def know_driver(self, driver_id: int, name: str, vehicle: str | None) -> None:
        self.fleet.add_driver(driver_id, name, vehicle)

    def apply_remote(
        self, changes: Sequence[OrderChanged], reset: list[Order] | None = None
    ) -> None:
        changed = set() if reset is None else self.runs.reset(reset)
        for change in changes:
            order = change.order
            changed |= self.runs.apply(order)
            if order.driver_id is not None and change.shifted:
                changed |= self.runs.reindex(order.driver_id, change.shifted)
        for driver_id in changed:
            self.run_changed(driver_id, here=False)
            if reset is not None:  # changes may have been missed by everyone: tell couriers
                self.courier_runs.changed(driver_id)
