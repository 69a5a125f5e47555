"""Legs routed on the road network as runs change, and re-routed when a courier leaves them.

The live layer builds each stop's leg from the order's `route` (live/etas.py). An order
assigned without one gets, here, a leg routed on the network (usecases/router.py) from the
previous stop, or from the courier's position for the first stop; it is stored on the order
(`properties.source: "network"`), so every process and every restart draws the same leg,
and the live layer is told as of any committed change (the run is rebuilt, ETAs follow).
Where routing fails nothing is written: the provisional line stays, and the leg's
`route_note` says why (live/etas.py keeps it, on the process that tried). Without a network
at all (none imported, no pgRouting) no leg costs a database round trip (router.py).

Triggers, none of which waits for the database: a run changed (live/etas.py calls
`run_changed`), a courier's fix (the first one, when a leg waited for the position; one
that finds the courier off route: re-routed from there, at most once per
`reroute_min_interval_s` per courier). Work runs in one task per driver at a time;
a change made meanwhile is guarded against in the database (store/roads.py `set_leg`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import asyncpg

from geo.distance import haversine_m
from geo.events import EventKind
from geo.legs import is_network_leg, leg_start
from geo.model import Fix
from server.base.settings import Settings
from server.live.etas import DriverUpdate
from server.live.runs import RunStop
from server.live.state import Live
from server.store import orders, roads
from server.transport.hub import ALERTS_TOPIC, order_topic
from server.usecases.router import NOWHERE, Router
from server.wire import live as wire

log = logging.getLogger("tracker.routing")
TRIED_MAX = 10_000  # orders remembered as failed to route from where they were
SAME_PLACE_M = 30.0  # a leg starting this close to where it should still fits


class Routing:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, live: Live, router: Router) -> None:
        self._settings = settings
        self._pool = pool
        self._live = live
        self.router = router
        self._tasks: dict[int, asyncio.Task[None]] = {}  # per driver: its routing work
        self._again: set[int] = set()  # drivers whose run changed while their task ran
        self._tried: dict[int, tuple[float, float] | None] = {}  # order -> start it failed from
        self._awaiting: set[int] = set()  # drivers whose first leg waits for a position
        self._off_route: dict[int, Fix] = {}  # drivers off route, with the newest fix
        self._rerouted_at: dict[int, float] = {}  # driver -> monotonic time of the last one
        self.reroutes = 0
        self._closed = False

    # Triggers (on the event loop, never waiting) -----------------------------------------
    def run_changed(self, driver_id: int) -> None:
        self._schedule(driver_id)

    def on_fix(self, driver_id: int, fix: Fix, tracked: DriverUpdate | None) -> None:
        if driver_id in self._awaiting:
            self._awaiting.discard(driver_id)
            self._schedule(driver_id)
        if tracked is not None:
            for event in tracked.events:
                if event.kind is EventKind.OFF_ROUTE:
                    self._off_route[driver_id] = fix
                elif event.kind is EventKind.BACK_ON_ROUTE:
                    self._off_route.pop(driver_id, None)
        if driver_id in self._off_route:
            self._off_route[driver_id] = fix
            last = self._rerouted_at.get(driver_id)
            if last is None or time.monotonic() - last >= self._settings.reroute_min_interval_s:
                self._schedule(driver_id)

    async def close(self) -> None:
        self._closed = True  # nothing new from here on (the server is stopping)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until no routing work is in flight (tests, benchmarks)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    def _schedule(self, driver_id: int) -> None:
        if self._closed:
            return
        if driver_id in self._tasks:
            self._again.add(driver_id)
            return
        self._tasks[driver_id] = asyncio.get_running_loop().create_task(self._work(driver_id))

    async def _work(self, driver_id: int) -> None:
        try:
            while True:
                self._again.discard(driver_id)
                try:
                    await self._reroute(driver_id)
                    await self._route_run(driver_id)
                except Exception:  # never let one driver's routing stop the others'
                    log.exception("routing driver %d failed", driver_id)
                if driver_id not in self._again:
                    break
        finally:
            del self._tasks[driver_id]

    # The work -----------------------------------------------------------------------------
    async def _reroute(self, driver_id: int) -> None:
        fix = self._off_route.get(driver_id)
        last = self._rerouted_at.get(driver_id)
        now = time.monotonic()
        if fix is None or (last is not None and now - last < self._settings.reroute_min_interval_s):
            return
        stops = self._live.runs.stops(driver_id)
        if not stops:
            self._off_route.pop(driver_id, None)
            return
        self._rerouted_at[driver_id] = now
        stop = stops[0]
        if await self._put_leg(driver_id, stop, (fix.lon, fix.lat), rerouting=True):
            self.reroutes += 1
            self._off_route.pop(driver_id, None)  # the new leg starts where the courier is
            # Dispatchers hear of it at once (a live alert: their page redraws the run).
            alert = wire.Alert("rerouted", driver_id, stop.order_id, fix.recorded_at,
                               "from where the courier is")  # fmt: skip
            self._live.hub.publish(ALERTS_TOPIC, wire.encode(alert))

    async def _route_run(self, driver_id: int) -> None:
        stops = self._live.runs.stops(driver_id)
        fix = self._live.last_fix(driver_id)
        here = (fix.lon, fix.lat) if fix is not None else None
        for i, stop in enumerate(stops):
            start = stops[i - 1].destination if i else here
            if self._fits(stop, start, stops[i + 1 :], i == 0):
                continue
            if start is None:
                self._awaiting.add(driver_id)
                continue
            if stop.route is None and self._tried.get(stop.order_id) == start:
                continue  # failed from here already; a change of run or network tries again
            await self._put_leg(driver_id, stop, start)
        if len(self._tried) > TRIED_MAX:  # forget orders that left every run
            still = self._live.runs.on_runs(set(self._tried))
            self._tried = {k: v for k, v in self._tried.items() if k in still}

    @staticmethod
    def _fits(stop: RunStop, start: tuple[float, float] | None, later: Sequence[RunStop],
              first: bool) -> bool:  # fmt: skip
        """The stop's leg needs no routing: a client's route, or a network leg that starts
        where it should (the first stop's: anywhere but at a stop now after it, which
        means the run was reordered)."""
        if stop.route is None:
            return False
        if not is_network_leg(stop.route):
            return True
        begins = leg_start(stop.route)
        if begins is None:
            return False
        if first:
            return not any(_near(begins, s.destination) for s in later)
        return start is not None and _near(begins, start)

    async def _put_leg(
        self, driver_id: int, stop: RunStop, start: tuple[float, float], rerouting: bool = False
    ) -> bool:
        """Route the stop's leg from `start` and store it; where none can be, live state
        learns why (`route_note`), and a stale network leg is dropped for the provisional
        line (unless `rerouting`: the leg it has stays). True if a leg was stored."""
        route, note = await self.router.leg(start, stop.destination)
        etas = self._live.etas
        if note in NOWHERE:  # no network: every leg says so; tried again on the next change
            etas.set_route_note(None, note)
            return False
        etas.set_route_note(None, None)
        etas.set_route_note(stop.order_id, note)
        if route is None:
            self._tried[stop.order_id] = start
            if rerouting or stop.route is None:  # keep the leg it has
                log.info("order %d: no leg routed (%s)", stop.order_id, note)
                return False
        else:
            self._tried.pop(stop.order_id, None)
        async with self._pool.acquire(timeout=self._settings.routing_timeout_s) as conn:
            after = await roads.set_leg(conn, stop.order_id, driver_id, stop.route, route)
            stored = await orders.get_order(conn, stop.order_id) if after is None else None
        if after is None:
            # Changed meanwhile: a dispatcher's route, another process's leg, or a change
            # whose live update came after this leg's with the route from before it. Live
            # state takes the order as stored (routed again from there if it needs a leg);
            # else the run could keep a provisional line for a leg that is stored.
            if stored is not None and stored.route != stop.route:
                self._live.on_order_changed(stop.order, stored, None)
            return False
        self._live.on_order_changed(stop.order, after, None)
        shown = self._live.customer_route(stop.order_id) if route is not None else None
        if shown is not None:  # a customer who sees the line gets the new one
            self._live.hub.publish(
                order_topic(stop.order_id), wire.encode(wire.RouteMessage(shown))
            )
        return route is not None


def _near(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return haversine_m(*a, *b) <= SAME_PLACE_M
