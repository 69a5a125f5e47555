"""Drivers' runs as the live layer sees them: each driver's open stops in order, and who
may see the courier.

Kept in memory (loaded from PostGIS at start, updated after every committed order
change, on every process: see cluster.py), so the per-fix path never queries the database.

A change costs O(1) per order it names: a run is kept unordered and put in stop order
(with its visible orders) once, when it is next read. An insertion that moves every later
stop down one is one `reindex` of the run, not one change per stop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, NamedTuple

from server.domain.lifecycle import COURIER_VISIBLE, OFF_RUN, Status
from server.store.orders import Order


class RunStop(NamedTuple):
    """A stop on a run. A tuple: an insertion remakes every stop it moves down, and a frozen
    dataclass costs five times as much to make (per stop, on the event loop)."""

    order_id: int
    reference: str | None
    status: Status
    stop_index: int
    destination: tuple[float, float]
    route: Any
    due_by: datetime | None
    order: Order  # as last applied: for what the courier's run shows (its stop_index may lag)


@dataclass(frozen=True, slots=True)
class _Ordered:
    """A run in stop order, and the orders whose customers may see the courier."""

    stops: tuple[RunStop, ...]
    visible: tuple[int, ...]
    visible_set: frozenset[int]
    place: dict[int, int]  # order id -> how many open stops come before it


_EMPTY = _Ordered((), (), frozenset(), {})
_STOP_ORDER = itemgetter(3, 0)  # (stop_index, order_id) of a RunStop, without a call per stop


class Runs:
    def __init__(self, next_stop_only: bool) -> None:
        self._next_stop_only = next_stop_only
        self._stops: dict[int, dict[int, RunStop]] = {}  # driver -> order id -> stop
        self._ordered: dict[int, _Ordered] = {}  # per driver, until its run changes again
        self._driver_of: dict[int, int] = {}

    def load(self, orders: list[Order]) -> None:
        for order in orders:
            self.apply(order)

    def reset(self, orders: list[Order]) -> set[int]:
        """Replace everything with `orders` (all orders on runs, fresh from PostGIS);
        returns the drivers whose run is not what it was."""
        before = {driver_id: self.stops(driver_id) for driver_id in self._stops}
        self._stops.clear()
        self._ordered.clear()
        self._driver_of.clear()
        self.load(orders)
        drivers = before.keys() | self._stops.keys()
        return {d for d in drivers if before.get(d, ()) != self.stops(d)}

    def apply(self, order: Order) -> set[int]:
        """Take in an order's new state; returns the drivers whose run changed."""
        changed: set[int] = set()
        previous_driver = self._driver_of.pop(order.id, None)
        if previous_driver is not None:
            stops = self._stops[previous_driver]
            del stops[order.id]
            if not stops:
                del self._stops[previous_driver]
            changed.add(previous_driver)
        if (
            order.driver_id is not None
            and order.stop_index is not None
            and order.status not in OFF_RUN
        ):
            stop = RunStop(
                order.id,
                order.reference,
                order.status,
                order.stop_index,
                order.destination,
                order.route,
                order.due_by,
                order,
            )
            self._stops.setdefault(order.driver_id, {})[order.id] = stop
            self._driver_of[order.id] = order.driver_id
            changed.add(order.driver_id)
        for driver_id in changed:
            self._ordered.pop(driver_id, None)
        return changed

    def reindex(self, driver_id: int, stop_indexes: Iterable[tuple[int, int]]) -> set[int]:
        """Stops of the driver's run now at new indexes, as (order id, stop index) pairs
        (an insertion moved them down); orders not on that run are ignored. Returns the
        drivers whose run changed (the driver, or none)."""
        stops = self._stops.get(driver_id)
        if stops is None:
            return set()
        moved = False
        for order_id, stop_index in stop_indexes:
            stop = stops.get(order_id)
            if stop is not None and stop.stop_index != stop_index:
                stops[order_id] = RunStop(
                    order_id,
                    stop.reference,
                    stop.status,
                    stop_index,
                    stop.destination,
                    stop.route,
                    stop.due_by,
                    stop.order,
                )
                moved = True
        if not moved:
            return set()
        self._ordered.pop(driver_id, None)
        return {driver_id}

    def drivers(self) -> list[int]:
        return list(self._stops)

    def _run(self, driver_id: int) -> _Ordered:
        ordered = self._ordered.get(driver_id)
        if ordered is not None:
            return ordered
        stops = self._stops.get(driver_id)
        if stops is None:
            return _EMPTY
        in_order = tuple(sorted(stops.values(), key=_STOP_ORDER))
        out = [s.order_id for s in in_order if s.status in COURIER_VISIBLE]
        visible = tuple(out[:1] if self._next_stop_only else out)
        place = {s.order_id: i for i, s in enumerate(in_order)}
        ordered = _Ordered(in_order, visible, frozenset(visible), place)
        self._ordered[driver_id] = ordered
        return ordered

    def stops(self, driver_id: int) -> Sequence[RunStop]:
        """The driver's open stops in stop order."""
        return self._run(driver_id).stops

    def driver_of(self, order_id: int) -> int | None:
        return self._driver_of.get(order_id)

    def on_runs(self, order_ids: set[int]) -> set[int]:
        """Those of `order_ids` that are on some driver's run."""
        return order_ids & self._driver_of.keys()

    def current_stop(self, driver_id: int) -> RunStop | None:
        """The stop the courier is heading to (or at): the first one out for delivery or
        arrived."""
        for stop in self._run(driver_id).stops:
            if stop.status in COURIER_VISIBLE:
                return stop
        return None

    def visible_orders(self, driver_id: int) -> Sequence[int]:
        """Orders whose customers may see this courier now."""
        return self._run(driver_id).visible

    def stops_before(self, order_id: int) -> int | None:
        """How many open stops of its run come before the order's (a count, nothing of
        them); None off a run."""
        driver_id = self._driver_of.get(order_id)
        return None if driver_id is None else self._run(driver_id).place.get(order_id)

    def courier_visible(self, order_id: int) -> bool:
        driver_id = self._driver_of.get(order_id)
        return driver_id is not None and order_id in self._run(driver_id).visible_set
