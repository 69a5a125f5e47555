"""Each courier's run as their socket shows it: `{"type":"run","stops":[…]}` on the
driver's topic (`driver:{id}`), so it reaches the courier's socket on whichever process it
is connected to.

Encoded once per change, and not at all when one process runs and the courier's socket is
not open. A change of the run itself (a stop added, removed, moved, or its status) goes out
at once, from the process that committed it; its ETAs, from the process tracking the
driver, when a published ETA moved materially (geo/eta.py: a minute, or a tenth of the time
left) or the tracker was rebuilt, at most once per `min_interval_s` per courier (a later
move waits for the next flush). Subscribers conflate runs by key: a slow socket gets the
newest.

With `defer` (the event loop's `call_soon`, as the app wires it) a run's message is built
on a loop turn of its own, once however many changes came before it: at 1,000 stops it
costs several milliseconds, which must not add to the stall of the change that caused it
(the hardening issue's bound on a run change).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from server.live.etas import Etas
from server.live.runs import Runs
from server.transport.hub import RUN_KEY, Hub, driver_topic
from server.wire.courier_actions import RunMessage, RunStop, encode
from server.wire.orders import Destination, Window

MIN_INTERVAL_S = 10.0  # between ETA-only updates of one courier's run


class CourierRuns:
    def __init__(
        self,
        hub: Hub,
        runs: Runs,
        etas: Etas,
        min_interval_s: float = MIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        defer: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self._hub = hub
        self._defer = defer
        self._due: set[int] = set()  # deferred, not built yet (bounded by the drivers)
        self._clock = clock
        self._runs = runs
        self._etas = etas
        self._min_interval_s = min_interval_s
        # Per driver, so bounded by the drivers table:
        self._sent_m: dict[int, float] = {}
        self._waiting: set[int] = set()  # ETAs moved too soon after the last send
        self._without_etas: set[int] = set()  # last sent with stops but not one ETA

    def message(self, driver_id: int) -> bytes:
        """The driver's run as their socket gets it, encoded."""
        stops = []
        for stop in self._runs.stops(driver_id):
            order = stop.order
            window = None
            if order.window_start is not None and order.window_end is not None:
                window = Window(order.window_start, order.window_end)
            stops.append(
                RunStop(
                    order_id=stop.order_id,
                    reference=stop.reference,
                    status=stop.status.value,
                    destination=Destination(
                        stop.destination[1], stop.destination[0], order.address
                    ),
                    customer_name=order.customer_name,
                    eta=self._etas.view(stop.order_id),
                    promised_by=order.promised_by,
                    window=window,
                    delivery_instructions=order.delivery_instructions,
                    pin_required=order.pin_required,
                )
            )
        if stops and all(stop.eta is None for stop in stops):
            self._without_etas.add(driver_id)
        else:
            self._without_etas.discard(driver_id)
        return encode(RunMessage(stops))

    def changed(self, driver_id: int) -> None:
        """The run changed: send it (if anyone may be listening), now or on the next loop
        turn (`defer`)."""
        self._waiting.discard(driver_id)
        self._sent_m[driver_id] = self._clock()
        if self._defer is None:
            self._send(driver_id)
        elif driver_id not in self._due:
            self._due.add(driver_id)
            self._defer(lambda: self._send(driver_id))

    def _send(self, driver_id: int) -> None:
        self._due.discard(driver_id)
        topic = driver_topic(driver_id)
        if not self._hub.clustered and not self._hub.subscribers(topic):
            return  # one process, and the courier's socket is not open: nobody to tell
        self._hub.publish(topic, self.message(driver_id), RUN_KEY)

    def tracker_news(self, driver_id: int, *, moved: bool, has_etas: bool) -> None:
        """The driver's tracker updated. Moved ETAs are sent paced (`etas_moved`). A run
        last sent before any stop had an ETA gets its first ones at once: a first ETA is
        no "move" (geo/eta.py), so nothing else would send it."""
        if moved:
            self.etas_moved(driver_id)
        elif has_etas and driver_id in self._without_etas:
            self._without_etas.discard(driver_id)  # at most once per run sent without
            self.changed(driver_id)

    def etas_moved(self, driver_id: int) -> None:
        """A published ETA of the run moved materially: send, or wait out the interval."""
        if self._clock() - self._sent_m.get(driver_id, -1e18) >= self._min_interval_s:
            self.changed(driver_id)
        else:
            self._waiting.add(driver_id)

    def flush(self) -> None:
        """Send the runs whose ETAs moved and whose interval has passed."""
        if not self._waiting:
            return
        now_m = self._clock()
        due = [d for d in self._waiting if now_m - self._sent_m[d] >= self._min_interval_s]
        for driver_id in due:
            self.changed(driver_id)
