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
from typing import Protocol

import msgspec

from geo.eta import StopEta
from geo.model import Fix
from server.store.orders import Order
from server.transport.hub import ETA_KEY, POSITION_KEY, Hub, order_of_topic

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


class LiveState(Protocol):
    """What Cluster needs of the live state (live/state.py's Live), and all it touches."""

    @property
    def origin(self) -> str:
        """This process's name on the bus."""
        ...

    def courier_visible(self, order_id: int) -> bool: ...

    def drivers_to_announce(self, connected: bool, tracked: bool) -> list[int]:
        """The drivers whose state changed here since the last call (and, if asked, those
        with couriers connected here, those tracked here); the next call starts afresh."""
        ...

    def report(self, driver_id: int) -> DriverFacts | None:
        """The driver's state as this process knows it (None: an unknown driver)."""
        ...

    def take_report(self, facts: DriverFacts, expires_m: float) -> None:
        """Another process's report of a driver; its presence counts until `expires_m`."""
        ...

    def know_driver(self, driver_id: int, name: str, vehicle: str | None) -> None: ...

    def apply_remote(
        self, changes: Sequence[OrderChanged], reset: list[Order] | None = None
    ) -> None:
        """Order changes committed by other processes (over every run replaced by `reset`,
        when given): each run they touch is rebuilt once."""
        ...


class Cluster:
    """The live state's side of the bus (hub.Peer): applies what the others say, and says
    what changed here."""

    def __init__(
        self,
        hub: Hub,
        live: LiveState,
        presence_ttl_s: float,
        reload_runs: Callable[[], Awaitable[list[Order]]] | None,
    ) -> None:
        self._hub = hub
        self._live = live
        self._presence_ttl_s = presence_ttl_s
        self._reload_runs = reload_runs
        self._next_renewal_m = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._reloading: list[OrderChanged] | None = None  # changes heard while runs reload

    # Telling the others ------------------------------------------------------------------
    def order_changed(
        self,
        order: Order,
        shifted: Sequence[tuple[int, int]] = (),
        driver: tuple[str, str | None] | None = None,
    ) -> None:
        """`driver`: the name and vehicle of the order's driver, if known here."""
        name, vehicle = (None, None) if driver is None else driver
        message = OrderChanged(self._live.origin, order, name, vehicle, list(shifted))
        self._hub.broadcast(_encode(message))

    def announce(self, everyone: bool = False) -> None:
        """Send the state of drivers that changed here since the last call (and renew the
        presence of couriers connected here when due)."""
        for _ in self.announce_slices(everyone, None):
            pass

    def announce_slices(self, everyone: bool, slice_drivers: int | None) -> Iterator[None]:
        """`announce`, yielding after each `slice_drivers` drivers (None: all in one slice;
        see Fleet.flush_slices)."""
        live = self._live
        if not self._hub.clustered:
            live.drivers_to_announce(False, False)  # nobody to tell: start afresh
            return
        now_m = time.monotonic()
        renew = everyone or now_m >= self._next_renewal_m
        if renew:
            self._next_renewal_m = now_m + self._presence_ttl_s / 3
        batch = live.drivers_to_announce(renew, everyone)
        step = slice_drivers or len(batch) or 1
        for start in range(0, len(batch), step):
            for driver_id in batch[start : start + step]:
                facts = live.report(driver_id)
                if facts is not None:
                    self._hub.broadcast(_encode(facts), f"driver:{driver_id}")
            yield

    # Hearing from them (hub.Peer) -----------------------------------------------------
    def on_cluster_message(self, data: bytes) -> None:
        message = _decode(data)
        if isinstance(message, DriverFacts):
            self._live.take_report(message, time.monotonic() + self._presence_ttl_s)
        elif isinstance(message, OrderChanged):
            self._apply_order(message)
        else:
            self.announce(everyone=True)

    def on_bus_connected(self, first: bool) -> None:
        self._hub.broadcast(_encode(Hello(self._live.origin)))
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
        return order_id is None or self._live.courier_visible(order_id)

    def _apply_order(self, message: OrderChanged) -> None:
        order = message.order
        if self._reloading is not None:
            self._reloading.append(message)  # applied again over the reloaded runs
        if order.driver_id is not None and message.driver_name is not None:
            self._live.know_driver(order.driver_id, message.driver_name, message.driver_vehicle)
        self._live.apply_remote([message])

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
        self._live.apply_remote(heard, reset=orders)  # heard: committed after the read, perhaps
