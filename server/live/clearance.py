"""What a customer may see of a courier's run without learning anyone else's address.

Two things point at another customer's door: the route (each leg starts at the previous
stop) and the courier standing there. So, for each order whose customer may see the
courier (runs.py), the courier's position is withheld while it is within
`clearance_m` of another stop of the run (one still on it, or one of the last few that left
it: the stop the courier is just leaving), and the route shown is only the end of the leg
clear of those stops and of the leg's own start, and ahead of the courier (geo/clearance.py).

Cost: per fix, one `Keepout.near` (a few multiplications per stop of the run), built once
per run change. The route is cut when a customer asks (snapshot, REST), from a per-order
`LegView` kept until the leg or the run changes; the page trims what the courier leaves
behind as it drives, so positions carry no geometry.
"""

from __future__ import annotations

from typing import Any

from geo.clearance import Keepout, LegView
from geo.route import RouteError, parse_route
from server.live.etas import Etas
from server.live.runs import Runs

# Stops that left a run (delivered, failed, moved) are avoided for a while: the last few.
DEPARTED_KEPT = 3


class Clearance:
    def __init__(self, runs: Runs, etas: Etas, clearance_m: float) -> None:
        self._runs = runs
        self._etas = etas
        self.clearance_m = clearance_m
        self._known: dict[int, dict[int, tuple[float, float]]] = {}  # driver -> its stops
        self._departed: dict[int, dict[int, tuple[float, float]]] = {}  # oldest first
        self._keepouts: dict[int, Keepout] = {}
        # order -> (the leg it was cut from, the keepout it avoids, the view)
        self._views: dict[int, tuple[dict[str, Any], Keepout, LegView]] = {}

    def run_changed(self, driver_id: int) -> None:
        """The driver's run changed (runs.py already has the new one): stops that left it
        are remembered among the departed."""
        current = {s.order_id: s.destination for s in self._runs.stops(driver_id)}
        before = self._known.get(driver_id, {})
        departed = self._departed.setdefault(driver_id, {})
        for order_id in [o for o in departed if o in current]:  # back on the run (few)
            del departed[order_id]
        for order_id, destination in before.items():
            if order_id not in current:
                departed.pop(order_id, None)
                departed[order_id] = destination  # the newest last
        for order_id in list(departed)[:-DEPARTED_KEPT]:
            del departed[order_id]
        self._known[driver_id] = current
        self._keepouts.pop(driver_id, None)
        for order_id in before.keys() - current.keys():
            self._views.pop(order_id, None)

    def _keepout(self, driver_id: int) -> Keepout:
        keepout = self._keepouts.get(driver_id)
        if keepout is None:
            if driver_id not in self._known:  # loaded at start-up: no change seen yet
                self._known[driver_id] = {
                    s.order_id: s.destination for s in self._runs.stops(driver_id)
                }
            places = {**self._departed.get(driver_id, {}), **self._known[driver_id]}
            keepout = Keepout([(o, lon, lat) for o, (lon, lat) in places.items()], self.clearance_m)
            self._keepouts[driver_id] = keepout
        return keepout

    def near(self, driver_id: int, lon: float, lat: float) -> list[int]:
        """The orders whose stops (lon, lat) lies within the clearance of."""
        return self._keepout(driver_id).near(lon, lat)

    def hides(self, driver_id: int, order_id: int, lon: float, lat: float) -> bool:
        """Whether a courier at (lon, lat) is too close to another stop to show `order_id`'s
        customer."""
        return any(o != order_id for o in self.near(driver_id, lon, lat))

    def route(self, order_id: int) -> dict[str, Any] | None:
        """The order's leg as its customer may see it, a GeoJSON Feature, or None."""
        driver_id = self._runs.driver_of(order_id)
        leg = self._etas.leg(order_id)
        if driver_id is None or leg is None:
            return None
        keepout = self._keepout(driver_id)
        kept = self._views.get(order_id)
        if kept is not None and kept[0] is leg and kept[1] is keepout:
            view = kept[2]
        else:
            try:
                coords = parse_route(leg).coords
            except RouteError:
                return None
            avoid = [coords[0], *keepout.points(excluding=order_id)]
            view = LegView(coords, avoid, self.clearance_m)
            self._views[order_id] = (leg, keepout, view)
        visible = view.ahead(self._ahead_m(driver_id, order_id))
        if visible is None:
            return None
        provisional = bool(leg.get("properties", {}).get("provisional", False))
        return {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [list(c) for c in visible]},
            "properties": {"provisional": provisional},
        }

    def _ahead_m(self, driver_id: int, order_id: int) -> float | None:
        """How much of the order's leg is still ahead of the courier, from its ETA's
        remaining distance (which counts in the run's stretched metres when any leg is a
        provisional straight line)."""
        eta = self._etas.eta(order_id)
        if eta is None:
            return None
        provisional = any(
            (self._etas.leg(s.order_id) or {}).get("properties", {}).get("provisional")
            for s in self._runs.stops(driver_id)
        )
        return eta.remaining_m / (self._etas.detour_factor if provisional else 1.0)
