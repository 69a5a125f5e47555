"""One live picture across server processes: what they tell each other over the bus.

Every process keeps the whole picture (runs, drivers' positions and presence, ETAs), so
any of them can answer any snapshot, view or list. They keep it in step with three
messages on the bus's cluster channel (never delivered back to their sender):

- `order`: an order change this process committed, with the order as committed (and, for
  an insertion, the stops it moved down: one message, however long the run). Every other
  process applies it to its runs; the one tracking the driver rebuilds the tracker once
  and publishes the new ETAs. Sent before the change's status message, on the same
  connection, so a process always knows a courier is hidden before it sees what follows.
- `driver`: a driver's state as this process knows it: newest fix, courier sockets open
  here, and, from the process tracking it, the run's anchor and the stops' ETAs. Sent at
  most once per fleet interval per changed driver (conflated while waiting), and renewed
  for connected couriers every third of `bus_presence_ttl_s`.
- `hello`: a process (re)connected: everyone answers with their drivers' state.

The process a driver's newest fix arrived at tracks it; when the courier reconnects
elsewhere, the new process rebuilds the same run from the shared anchor and carries on
from the courier's position along it (and its plausibility filter from PostGIS). After a
bus outage every process reloads the runs from PostGIS and says hello.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import msgspec

from geo.eta import StopEta
from geo.model import Fix
from server.live.runs import Runs
from server.store.orders import Order
from server.transport.hub import ETA_KEY, POSITION_KEY, order_of_topic

if TYPE_CHECKING:
    from server.live.state import Live

log = logging.getLogger("tracker.cluster")

COURIER_KEYS = (POSITION_KEY, ETA_KEY)  # messages that show the courier


class DriverFacts(msgspec.Struct, tag="driver", frozen=True):
    origin: str
    driver_id: int
    name: str
    vehicle: str | None
    fix: Fix | None
    connections: int
    tracking: bool = False  # the sender tracks the driver: anchor and ETAs are its own
    anchor: tuple[float, float] | None = None
    etas: list[StopEta] = []


class OrderChanged(msgspec.Struct, tag="order", frozen=True):
    origin: str
    order: Order
    driver_name: str | None = None
    driver_vehicle: str | None = None
    # (order id, stop index) of the stops of the order's driver its insertion moved down:
    # one message per insertion, however long the run, and one rebuild where it is applied.
    shifted: list[tuple[int, int]] = []


class Hello(msgspec.Struct, tag="hello", frozen=True):
    origin: str


Message = DriverFacts | OrderChanged | Hello
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Message).decode


class Cluster:
    """The live state's side of the bus (hub.Peer): applies what the others say, and says
    what changed here."""

    def __init__(
        self,
        live: Live,
        presence_ttl_s: float,
        reload_runs: Callable[[], Awaitable[list[Order]]] | None,
    ) -> None:
        self._live = live
        self._presence_ttl_s = presence_ttl_s
        self._reload_runs = reload_runs
        self._next_renewal_m = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._reloading: list[OrderChanged] | None = None  # changes heard while runs reload

    # Telling the others ------------------------------------------------------------------
    def order_changed(self, order: Order, shifted: Sequence[tuple[int, int]] = ()) -> None:
        live = self._live
        driver = None if order.driver_id is None else live.fleet.drivers.get(order.driver_id)
        message = OrderChanged(
            live.origin,
            order,
            None if driver is None else driver.name,
            None if driver is None else driver.vehicle,
            list(shifted),
        )
        live.hub.broadcast(_encode(message))

    def announce(self, everyone: bool = False) -> None:
        """Send the state of drivers that changed here since the last call (and renew the
        presence of couriers connected here when due)."""
        for _ in self.announce_slices(everyone, len(self._live.fleet.drivers) or 1):
            pass

    def announce_slices(self, everyone: bool, slice_drivers: int) -> Iterator[None]:
        """`announce`, yielding after each `slice_drivers` drivers (see Fleet.flush_slices)."""
        live = self._live
        fleet = live.fleet
        changed = fleet.changed_here
        if not live.hub.clustered:
            changed.clear()
            return
        now_m = time.monotonic()
        if everyone or now_m >= self._next_renewal_m:
            self._next_renewal_m = now_m + self._presence_ttl_s / 3
            changed.update(d.id for d in fleet.drivers.values() if d.connections > 0)
        if everyone:
            changed.update(d for d, origin in live.tracked_by.items() if origin == live.origin)
        batch = list(changed)
        changed.clear()  # what changes from here on goes in the next round
        for start in range(0, len(batch), slice_drivers):
            for driver_id in batch[start : start + slice_drivers]:
                facts = self._facts(driver_id)
                if facts is not None:
                    live.hub.broadcast(_encode(facts), f"driver:{driver_id}")
            yield

    def _facts(self, driver_id: int) -> DriverFacts | None:
        live = self._live
        driver = live.fleet.drivers.get(driver_id)
        if driver is None:
            return None
        tracking = live.tracked_by.get(driver_id) == live.origin
        return DriverFacts(
            live.origin,
            driver_id,
            driver.name,
            driver.vehicle,
            live.last_fix.get(driver_id),
            driver.connections,
            tracking,
            live.etas.anchor(driver_id) if tracking else None,
            live.etas.driver_etas(driver_id) if tracking else [],
        )

    # Hearing from them (hub.Peer) -----------------------------------------------------
    def on_cluster_message(self, data: bytes) -> None:
        message = _decode(data)
        if isinstance(message, DriverFacts):
            self._apply_facts(message)
        elif isinstance(message, OrderChanged):
            self._apply_order(message)
        else:
            self.announce(everyone=True)

    def on_bus_connected(self, first: bool) -> None:
        live = self._live
        live.hub.broadcast(_encode(Hello(live.origin)))
        self.announce(everyone=True)
        if not first and self._reload_runs is not None:
            task = asyncio.create_task(self._resync_runs())  # order changes may have been lost
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def admits(self, topic: str, key: str | None) -> bool:
        """A position or ETA from another process reaches a customer here only if this
        process also sees the courier as visible to that order (it applied every change
        the sender of a hiding status made before)."""
        if key not in COURIER_KEYS:
            return True
        order_id = order_of_topic(topic)
        return order_id is None or self._live.runs.courier_visible(order_id)

    def _apply_order(self, message: OrderChanged) -> None:
        live = self._live
        order = message.order
        if self._reloading is not None:
            self._reloading.append(message)  # applied again over the reloaded runs
        if order.driver_id is not None and message.driver_name is not None:
            live.fleet.add_driver(order.driver_id, message.driver_name, message.driver_vehicle)
        for driver_id in _apply(live.runs, message):
            live.run_changed(driver_id, here=False)

    def _apply_facts(self, facts: DriverFacts) -> None:
        live = self._live
        driver_id = facts.driver_id
        fleet = live.fleet
        fleet.add_driver(driver_id, facts.name, facts.vehicle)
        expires_m = time.monotonic() + self._presence_ttl_s
        fleet.remote_presence(driver_id, facts.origin, facts.connections, expires_m)
        known = live.last_fix.get(driver_id)
        fix = facts.fix
        if fix is not None and (known is None or fix.recorded_at > known.recorded_at):
            live.last_fix[driver_id] = fix
            fleet.position(driver_id, fix)
            if facts.tracking and live.tracked_by.get(driver_id) != facts.origin:
                live.tracked_by[driver_id] = facts.origin  # the courier moved over there
                live.etas.drop_tracker(driver_id)
        elif facts.tracking and live.tracked_by.get(driver_id) is None:
            live.tracked_by[driver_id] = facts.origin
        if facts.tracking and live.tracked_by.get(driver_id) == facts.origin:
            live.etas.adopt(driver_id, facts.anchor, facts.etas)
            fleet.run_changed(driver_id)

    async def _resync_runs(self) -> None:
        assert self._reload_runs is not None
        heard: list[OrderChanged] = []
        self._reloading = heard
        try:
            orders = await self._reload_runs()
        except Exception as exc:  # the next reconnection tries again
            log.warning("could not reload runs after a bus outage: %r", exc)
            return
        finally:
            self._reloading = None
        live = self._live
        changed = live.runs.reset(orders)
        for message in heard:  # committed after the read, perhaps
            changed |= _apply(live.runs, message)
        for driver_id in changed:
            live.run_changed(driver_id, here=False)


def _apply(runs: Runs, message: OrderChanged) -> set[int]:
    """Take in an order change (and the stops its insertion moved); returns the drivers
    whose run changed, each once."""
    order = message.order
    changed = runs.apply(order)
    if order.driver_id is not None and message.shifted:
        changed |= runs.reindex(order.driver_id, message.shifted)
    return changed
