"""The dispatchers' live picture: every driver's position, presence and run.

Changes mark a driver dirty; every `fleet_interval_ms` the dirty drivers' entries are
encoded once each, and each dispatcher gets one delta holding the entries inside its
viewport (plus those that just left it, so markers move out rather than freeze).
Presence: online while a courier socket is open, here or on another process (which says
so at least every third of `bus_presence_ttl_s`; a process that goes silent stops counting
after that), or while the last fix is younger than `offline_after_s` (HTTP-only devices
have no socket). Every process keeps the whole fleet (cluster.py feeds it the others'
drivers) and builds its own dispatchers' deltas from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from geo.model import Fix
from server.domain import lateness
from server.live.etas import Etas
from server.live.runs import Runs, RunStop
from server.transport.subscriber import Subscriber
from server.wire import live as wire

BBox = tuple[float, float, float, float]  # west, south, east, north


@dataclass(slots=True)
class DriverState:
    id: int
    name: str
    vehicle: str | None
    position: wire.Position | None = None
    lon: float | None = None
    lat: float | None = None
    last_fix_at: datetime | None = None
    connections: int = 0  # courier sockets open on this process
    remote: dict[str, tuple[int, float]] = field(default_factory=dict)
    # ^ other processes: origin -> (sockets open there, monotonic time the report expires)
    online: bool = False

    def remote_connected(self, now_m: float) -> bool:
        """Sockets open on another process, by a report not expired; expired reports are
        dropped here (a process that stopped leaves its last one behind, and each process
        has a new origin: kept, they would pile up with every restart)."""
        remote = self.remote
        for origin in [o for o, (_, expires_m) in remote.items() if expires_m <= now_m]:
            del remote[origin]
        return any(n > 0 for n, _ in remote.values())


@dataclass(slots=True, eq=False)
class FleetClient:
    subscriber: Subscriber
    bbox: BBox | None = None
    visible: set[int] = field(default_factory=set)

    def sees(self, driver: DriverState) -> bool:
        if self.bbox is None:
            return True
        if driver.lon is None or driver.lat is None:
            return False
        west, south, east, north = self.bbox
        inside_lon = (
            west <= driver.lon <= east
            if west <= east
            else (driver.lon >= west or driver.lon <= east)
        )
        return inside_lon and south <= driver.lat <= north


class Fleet:
    def __init__(
        self,
        runs: Runs,
        etas: Etas,
        interval_s: float,
        offline_after_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._runs = runs
        self._etas = etas
        self._interval_s = interval_s
        self._offline_after_s = offline_after_s
        self._clock = clock
        self.drivers: dict[int, DriverState] = {}
        self._dirty: set[int] = set()
        self.changed_here: set[int] = set()  # drivers whose state this process should announce
        self.clients: set[FleetClient] = set()

    @property
    def interval_s(self) -> float:
        return self._interval_s

    # Changes ---------------------------------------------------------------
    def add_driver(self, driver_id: int, name: str, vehicle: str | None) -> None:
        if driver_id not in self.drivers:
            self.drivers[driver_id] = DriverState(driver_id, name, vehicle)
            self._dirty.add(driver_id)

    def position(self, driver_id: int, fix: Fix) -> wire.Position | None:
        """Record the driver's newest fix; returns it as watchers see it (None for unknown
        drivers)."""
        driver = self.drivers.get(driver_id)
        if driver is None:
            return None
        driver.position = wire.position_of(fix)
        driver.lon, driver.lat, driver.last_fix_at = fix.lon, fix.lat, fix.recorded_at
        self._refresh_presence(driver, self._clock())
        self._dirty.add(driver_id)
        return driver.position

    def connected(self, driver_id: int, delta: int) -> None:
        driver = self.drivers.get(driver_id)
        if driver is not None:
            driver.connections += delta
            self._refresh_presence(driver, self._clock())
            self._dirty.add(driver_id)
            self.changed_here.add(driver_id)

    def remote_presence(
        self, driver_id: int, origin: str, connections: int, expires_m: float
    ) -> None:
        """Another process's count of the driver's open sockets, valid until `expires_m`."""
        driver = self.drivers.get(driver_id)
        if driver is None:
            return
        if connections > 0:
            driver.remote[origin] = (connections, expires_m)
        else:
            driver.remote.pop(origin, None)
        if self._refresh_presence(driver, self._clock()):
            self._dirty.add(driver_id)

    def run_changed(self, driver_id: int) -> None:
        if driver_id in self.drivers:
            self._dirty.add(driver_id)

    def _refresh_presence(self, driver: DriverState, now: datetime) -> bool:
        recent = (
            driver.last_fix_at is not None
            and (now - driver.last_fix_at).total_seconds() < self._offline_after_s
        )
        remote = bool(driver.remote) and driver.remote_connected(time.monotonic())
        online = driver.connections > 0 or recent or remote
        changed = online != driver.online
        driver.online = online
        return changed

    # Views -------------------------------------------------------------------
    def entry(self, driver: DriverState) -> wire.FleetEntry:
        stops = self._runs.stops(driver.id)
        current = self._runs.current_stop(driver.id)
        now = self._clock()
        return wire.FleetEntry(
            id=driver.id,
            name=driver.name,
            vehicle=driver.vehicle,
            online=driver.online,
            state="offline" if not driver.online else "delivering" if current else "idle",
            position=driver.position,
            current_stop=None
            if current is None
            else wire.CurrentStop(
                current.order_id,
                current.reference,
                current.status.value,
                self._etas.view(current.order_id),
            ),
            orders=[
                wire.FleetOrder(
                    id=s.order_id,
                    reference=s.reference,
                    status=s.status.value,
                    stop_index=s.stop_index,
                    eta=self._eta_at(s.order_id),
                    late=self.is_late(s, now),
                )
                for s in stops
            ],
        )

    def _eta_at(self, order_id: int) -> datetime | None:
        eta = self._etas.eta(order_id)
        return None if eta is None else eta.eta_at

    def is_late(self, stop: RunStop, now: datetime) -> bool:
        """Past its promise, or expected to arrive after it (server/domain/lateness.py)."""
        return lateness.is_late(stop.due_by, stop.status, self._eta_at(stop.order_id), now)

    def snapshot(self, bbox: BBox | None = None) -> list[wire.FleetEntry]:
        probe = FleetClient(Subscriber(1), bbox)
        return [self.entry(d) for d in self.drivers.values() if probe.sees(d)]

    def snapshot_message(self, client: FleetClient) -> bytes:
        visible = [d for d in self.drivers.values() if client.sees(d)]
        client.visible = {d.id for d in visible}
        return wire.encode(wire.FleetSnapshot([self.entry(d) for d in visible], self._clock()))

    # The delta loop -------------------------------------------------------------
    def flush(self) -> None:
        """Send every dispatcher its deltas for what changed since the last flush."""
        for _ in self.flush_slices(len(self.drivers) or 1):
            pass

    def flush_slices(self, slice_drivers: int) -> Iterator[None]:
        """`flush`, a slice at a time: yields after each `slice_drivers` drivers so that the
        caller can serve sockets in between (a whole fleet at once is a stall of tens of
        milliseconds every interval). Each slice is its own delta message."""
        now = self._clock()
        drivers = list(self.drivers.values())
        for start in range(0, len(drivers), 4 * slice_drivers):  # presence is cheaper
            for driver in drivers[start : start + 4 * slice_drivers]:
                if self._refresh_presence(driver, now):
                    self._dirty.add(driver.id)
            yield
        dirty_ids, self._dirty = self._dirty, set()
        if not self.clients:
            return
        header = wire.delta_header(now)
        ids = list(dirty_ids)
        for start in range(0, len(ids), slice_drivers):
            dirty = [d for i in ids[start : start + slice_drivers] if (d := self.drivers.get(i))]
            self._send_delta(header, dirty)
            yield

    def _send_delta(self, header: bytes, dirty: list[DriverState]) -> None:
        fragments = {d.id: wire.encode(self.entry(d)) for d in dirty}
        everyone: bytes | None = None
        for client in list(self.clients):
            if client.bbox is None:
                if everyone is None:
                    everyone = wire.delta(header, list(fragments.values()))
                client.subscriber.offer(everyone)
                continue
            chosen = []
            for driver in dirty:
                inside = client.sees(driver)
                if inside or driver.id in client.visible:
                    chosen.append(fragments[driver.id])
                if inside:
                    client.visible.add(driver.id)
                else:
                    client.visible.discard(driver.id)
            if chosen:
                client.subscriber.offer(wire.delta(header, chosen))
