"""What live state finds that customers are told about, handed up rather than sent.

Live state never calls a use-case: on the fix path `Live.on_fix` returns these notices and
the ingest pipeline hands them to the notifier; off it (a run rebuilt by an order change or
by another process, a tracker built on the worker thread) Live gives them to its
`Listener`, which app.py wires to the notifier.

What dispatchers are alerted to and that is kept (late, off route, offline, failed) goes,
on and off the fix path alike, to the `AlertListener` (usecases/alerts.py, wired in
app.py): it only queues them, so the fix path never waits on the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from geo.eta import StopEta
from geo.events import EventKind
from server.domain.lifecycle import Status
from server.domain.performance import Shown
from server.live.runs import RunStop
from server.wire.live import EtaView, Position, eta_view

if TYPE_CHECKING:  # etas.py makes the Arrived notices: only its type is needed here
    from server.live.etas import DriverUpdate


@dataclass(frozen=True, slots=True)
class FreshEta:
    """A fresh ETA of an order with a promise: the notifier judges whether it is delayed
    (only while it is out for delivery: server/domain/lateness.py, `announces_delay`)."""

    order_id: int
    due_by: datetime
    eta: StopEta
    status: Status  # the order's, as the run has it


@dataclass(frozen=True, slots=True)
class Arriving:
    """The courier is about to reach the order's door (geo's ARRIVING event)."""

    order_id: int
    eta: EtaView | None  # the ETA as customers get it (wire.live.eta_view)


@dataclass(frozen=True, slots=True)
class Arrived:
    """The tracker saw the courier arrive (geo's ARRIVED: inside the radius and dwelling;
    `at` is when it got there), with the ETAs shown before (eta_horizons.py): recorded as
    the attempt's GPS arrival (usecases/insights/recorder.py)."""

    order_id: int
    driver_id: int
    at: datetime
    shown: tuple[Shown, ...]


Notice = FreshEta | Arriving | Arrived


def notices_of(stops: Sequence[RunStop], update: DriverUpdate) -> list[Notice]:
    """What the notifier hears of a tracker update: every fresh ETA of an order with a
    promise (it judges delays), then the arrivals."""
    notices: list[Notice] = []
    for stop in stops:
        if stop.due_by is None:
            continue
        eta = update.etas.get(stop.order_id)
        if eta is not None:
            notices.append(FreshEta(stop.order_id, stop.due_by, eta, stop.status))
    for event in update.events:
        if event.kind is EventKind.ARRIVING and event.stop_id is not None:
            order_id = int(event.stop_id)
            notices.append(Arriving(order_id, eta_view(update.etas.get(order_id))))
    notices.extend(update.arrived)  # GPS arrivals, for the performance record
    return notices


class Listener(Protocol):
    """Hears the notices found off the fix path, in the order they were found."""

    def live_notices(self, notices: Sequence[Notice]) -> None: ...


@dataclass(frozen=True, slots=True)
class Raised:
    """An alert for dispatchers that is stored (and then published with its id)."""

    kind: str  # late | off_route | offline | failed (others are raised by use-cases)
    driver_id: int | None
    order_id: int | None
    at: datetime
    detail: str | None = None


class AlertListener(Protocol):
    """Takes alerts to store and publish; never blocks (a bounded queue)."""

    def alerts_raised(self, alerts: Sequence[Raised]) -> None: ...


@dataclass(frozen=True, slots=True)
class FixUpdate:
    """What a driver's newest fix changed in the live state: for `publish`, and `notices`
    for the notifier."""

    driver_id: int
    courier: Position | None  # the position as published (None: an unknown driver)
    shown: list[tuple[int, bool]]  # orders whose customers see the courier: (order, withheld)
    tracked: DriverUpdate | None  # the tracker's ETAs and events (None: no run, or building)
    notices: list[Notice]
