"""Drivers' runs as the live layer sees them: each driver's open stops in order, and who
may see the courier.

Kept in memory (loaded from PostGIS at start, updated after every committed order
change, on every process: see cluster.py), so the per-fix path never queries the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.orders.lifecycle import COURIER_VISIBLE, OFF_RUN, Status
from server.store.orders import Order


@dataclass(frozen=True, slots=True)
class RunStop:
    order_id: int
    reference: str | None
    status: Status
    stop_index: int
    destination: tuple[float, float]
    route: Any
    due_by: datetime | None


class Runs:
    def __init__(self, next_stop_only: bool) -> None:
        self._next_stop_only = next_stop_only
        self._stops: dict[int, list[RunStop]] = {}
        self._driver_of: dict[int, int] = {}

    def load(self, orders: list[Order]) -> None:
        for order in orders:
            self.apply(order)

    def reset(self, orders: list[Order]) -> set[int]:
        """Replace everything with `orders` (all orders on runs, fresh from PostGIS);
        returns the drivers whose run is not what it was."""
        before = {driver_id: list(stops) for driver_id, stops in self._stops.items()}
        self._stops.clear()
        self._driver_of.clear()
        self.load(orders)
        drivers = before.keys() | self._stops.keys()
        return {d for d in drivers if before.get(d, []) != self._stops.get(d, [])}

    def apply(self, order: Order) -> set[int]:
        """Take in an order's new state; returns the drivers whose run changed."""
        changed: set[int] = set()
        previous_driver = self._driver_of.pop(order.id, None)
        if previous_driver is not None:
            stops = self._stops[previous_driver]
            stops[:] = [s for s in stops if s.order_id != order.id]
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
            )
            stops = self._stops.setdefault(order.driver_id, [])
            stops.append(stop)
            stops.sort(key=lambda s: (s.stop_index, s.order_id))
            self._driver_of[order.id] = order.driver_id
            changed.add(order.driver_id)
        return changed

    def drivers(self) -> list[int]:
        return list(self._stops)

    def stops(self, driver_id: int) -> list[RunStop]:
        return self._stops.get(driver_id, [])

    def driver_of(self, order_id: int) -> int | None:
        return self._driver_of.get(order_id)

    def current_stop(self, driver_id: int) -> RunStop | None:
        """The stop the courier is heading to: the first one out for delivery."""
        for stop in self._stops.get(driver_id, ()):
            if stop.status is COURIER_VISIBLE:
                return stop
        return None

    def visible_orders(self, driver_id: int) -> list[int]:
        """Orders whose customers may see this courier now."""
        if self._next_stop_only:
            current = self.current_stop(driver_id)
            return [] if current is None else [current.order_id]
        return [s.order_id for s in self._stops.get(driver_id, ()) if s.status is COURIER_VISIBLE]

    def courier_visible(self, order_id: int) -> bool:
        driver_id = self._driver_of.get(order_id)
        return driver_id is not None and order_id in self.visible_orders(driver_id)
