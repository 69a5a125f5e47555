"""Live messages: what customers' and dispatchers' sockets receive as things move.

Customers (`WS /ws/track/{code}`): `position` (the courier and the ETA), `status`, `eta`;
dispatchers (`WS /ws/fleet`): `snapshot` of the fleet, then `delta`s, and `alert`s. Field
names and order are the contract in docs/api.md; each message is encoded once per publish.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from geo.eta import StopEta, iso
from geo.model import Fix

encode = msgspec.json.Encoder().encode


class Position(msgspec.Struct):
    """Where a courier is, as its watchers see it."""

    lat: float
    lon: float
    at: datetime
    speed: float | None
    heading: float | None
    accuracy: float | None


def position_of(fix: Fix) -> Position:
    return Position(fix.lat, fix.lon, fix.recorded_at, fix.speed_mps, fix.heading_deg,
                    fix.accuracy_m)  # fmt: skip


class EtaView(msgspec.Struct, omit_defaults=True):
    """A stop's ETA without its stop id (the contract's ETA fields). `remaining_m` is None
    where the road distance left would tell where another stop is. `estimate` (sent only
    when true) marks what a customer is shown before the order is out for delivery."""

    eta: str
    eta_s: int
    remaining_m: int | None
    window: list[str]
    confidence: str
    reason: str | None
    estimate: bool = False


def eta_view(eta: StopEta | None) -> EtaView | None:
    """An ETA as customers and dispatchers get it (None stays None)."""
    return None if eta is None else eta_of(eta)


def eta_of(eta: StopEta) -> EtaView:
    """The contract's ETA fields of a stop's ETA, as `StopEta.to_json` rounds and formats
    them (built directly: every customer's position carries one, on every fix)."""
    start, end = eta.window
    return EtaView(
        iso(eta.eta_at), round(eta.eta_s), round(eta.remaining_m), [iso(start), iso(end)],
        eta.confidence, eta.reason,
    )  # fmt: skip


def without_distance(eta: EtaView) -> EtaView:
    return msgspec.structs.replace(eta, remaining_m=None)


def as_estimate(eta: EtaView) -> EtaView:
    """The expected time before dispatch: when and how sure, nothing of where the courier
    is or what it is doing (no distance left, no reason for a change)."""
    return msgspec.structs.replace(eta, remaining_m=None, reason=None, estimate=True)


# Customers' messages ---------------------------------------------------------------
class PositionMessage(msgspec.Struct, tag="position", tag_field="type", omit_defaults=True):
    """`stops_before`: how many open stops of the run come before this order's (a count
    only; absent off a run)."""

    courier: Position | None
    eta: EtaView | None
    stops_before: int | None = None


class ArrivedMessage(msgspec.Struct, tag="arrived", tag_field="type"):
    """The tracker saw the courier arrive at this order's door (dwelt inside the radius)."""

    at: datetime


class StatusMessage(msgspec.Struct, tag="status", tag_field="type"):
    status: str
    at: datetime
    note: str | None
    courier: Position | None


# How every encoded StatusMessage starts (the tag comes first): a customer's subscriber
# spots one without decoding the others (server/edges/sockets/watch.py).
STATUS_PREFIX = b'{"type":"status",'


class EtaMessage(EtaView, tag="eta", tag_field="type"):
    stops_before: int | None = None


class RouteMessage(msgspec.Struct, tag="route", tag_field="type"):
    """The order's leg changed (routed on the road network, or re-routed after the courier
    left it): the route as the customer may see it (None: not shown now)."""

    route: dict[str, Any] | None


class EtaGone(msgspec.Struct, tag="eta", tag_field="type"):
    """An ETA change that leaves the customer no ETA to show."""


def eta_message(eta: EtaView | None, stops_before: int | None = None) -> EtaMessage | EtaGone:
    if eta is None:
        return EtaGone()
    return EtaMessage(**msgspec.structs.asdict(eta), stops_before=stops_before)


# Dispatchers' messages -------------------------------------------------------------
class Alert(msgspec.Struct, tag="alert", tag_field="type"):
    kind: str
    driver_id: int | None
    order_id: int | None
    at: datetime
    detail: str | None
    id: int | None = None  # stored alerts' id (GET /api/alerts); None: live only


class CurrentStop(msgspec.Struct):
    order_id: int
    reference: str | None
    status: str
    eta: EtaView | None


class FleetOrder(msgspec.Struct):
    id: int
    reference: str | None
    status: str
    stop_index: int | None
    eta: datetime | None
    late: bool


class FleetEntry(msgspec.Struct):
    """One driver on the dispatchers' map."""

    id: int
    name: str
    vehicle: str | None
    online: bool
    state: str  # offline | delivering | idle
    position: Position | None
    current_stop: CurrentStop | None
    orders: list[FleetOrder]
    app: str | None = None  # what sent the newest fix: own_page | http | traccar_client | owntracks
    battery: float | None = None  # of the newest fix, 0..1


class FleetView(msgspec.Struct):
    """`GET /api/fleet`."""

    drivers: list[FleetEntry]
    at: datetime


class FleetSnapshot(msgspec.Struct, tag="snapshot", tag_field="type"):
    drivers: list[FleetEntry]
    at: datetime


def delta_header(at: datetime) -> bytes:
    """The start of a `delta`; its entries are encoded once each and shared by every
    dispatcher that sees them (`delta`)."""
    return b'{"type":"delta","at":' + encode(at) + b',"drivers":['


def delta(header: bytes, entries: list[bytes]) -> bytes:
    return header + b",".join(entries) + b"]}"
