"""Orders as dispatchers see them (REST) and the narrower view a customer gets (the
tracking lookup and the first message on the tracking socket).

Only shaping: what a customer may see (the courier, the route, the ETA) is decided by the
caller (server/usecases/order_views.py) and handed in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from server.domain.codes import display
from server.store.orders import Order, TimelineEntry
from server.store.self_service import Issue, Rating
from server.wire.live import EtaView, Position
from server.wire.self_service import IssueView, RatingView


class Customer(msgspec.Struct):
    name: str
    email: str | None
    phone: str | None
    time_zone: str | None = None  # IANA, as given


class Preferences(msgspec.Struct):
    """The channels the customer hears of the order on (their preferences page)."""

    email: bool
    sms: bool


class Destination(msgspec.Struct):
    lat: float
    lon: float
    address: str | None


class Window(msgspec.Struct):
    start: datetime
    end: datetime


class Where(msgspec.Struct):
    lat: float
    lon: float


class Step(msgspec.Struct, omit_defaults=True):
    """A timeline entry for dispatchers: who did it, too; for a courier's action, the
    failure's reason and where it happened (`far`: beyond TRACKER_ACTION_FAR_M)."""

    status: str
    at: datetime
    actor: str
    note: str | None
    reason: str | None = None
    position: Where | None = None
    distance_m: float | None = None
    far: bool = False


class DispatcherOrder(msgspec.Struct):
    id: int
    reference: str | None
    tracking_code: str
    tracking_url: str
    status: str
    customer: Customer
    destination: Destination
    promised_by: datetime | None
    window: Window | None
    driver_id: int | None
    stop_index: int | None
    route: Any  # GeoJSON, or an encoded polyline, as assigned
    late: bool
    eta: EtaView | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    delivery_instructions: str | None  # the customer's (self-service), shown to the courier
    locale: str | None  # BCP 47, as given (canonical case): the customer's language
    preferences: Preferences  # what the customer chose to hear (a channel off: skipped)
    timeline: list[Step] | msgspec.UnsetType = msgspec.UNSET  # single orders only
    # Single orders only: problems the customer reported, oldest first, and their rating.
    issues: list[IssueView] | msgspec.UnsetType = msgspec.UNSET
    rating: RatingView | msgspec.UnsetType | None = msgspec.UNSET


class OrderPage(msgspec.Struct):
    """`GET /api/orders`: a page, and the `after` that reads the next one."""

    orders: list[DispatcherOrder]
    next_after: int | None


class CustomerStep(msgspec.Struct):
    status: str
    at: datetime
    note: str | None


class CustomerOrder(msgspec.Struct):
    """No driver identity, no other stops, no actors."""

    tracking_code: str
    reference: str | None
    status: str
    timeline: list[CustomerStep]
    destination: Destination
    promised_by: datetime | None
    window: Window | None
    courier: Position | None
    route: dict[str, Any] | None
    eta: EtaView | None
    expires_at: datetime | None
    # The proof-of-delivery photo, once delivered (unless TRACKER_PROOF_PHOTO_TO_CUSTOMER
    # is off): GET it like the lookup, under the tracking code.
    proof_photo_url: str | None = None
    # Their own delivery instructions (POST /api/track/{code}/instructions), to edit them.
    delivery_instructions: str | None = None
    # How many open stops of the run come before this one (a count only; None off a run),
    # and when the tracker saw the courier arrive at the door (while it is still there).
    stops_before: int | None = None
    arrived_at: datetime | None = None
    # The order's language (BCP 47, as the shop gave it; null: none given), for the page
    # to speak; messages use the closest of en, pt, es, fr, de, English otherwise.
    locale: str | None = None
    # The customer's IANA time zone, when the shop gave one: times on the page are theirs.
    time_zone: str | None = None


class CustomerSnapshot(CustomerOrder, tag="snapshot", tag_field="type"):
    """The first message on a customer's socket."""


def _destination(order: Order) -> Destination:
    return Destination(order.destination[1], order.destination[0], order.address)


def _window(order: Order) -> Window | None:
    if order.window_start is None or order.window_end is None:
        return None
    return Window(order.window_start, order.window_end)


def dispatcher_order(
    order: Order,
    tracking_url: str,
    route: Any,
    late: bool,
    eta: EtaView | None,
    timeline: list[TimelineEntry] | None = None,
    feedback: tuple[list[Issue], Rating | None] | None = None,
) -> DispatcherOrder:
    return DispatcherOrder(
        id=order.id,
        reference=order.reference,
        tracking_code=display(order.tracking_code),
        tracking_url=tracking_url,
        status=order.status.value,
        customer=Customer(
            order.customer_name,
            order.customer_email,
            order.customer_phone,
            order.customer_time_zone,
        ),
        destination=_destination(order),
        promised_by=order.promised_by,
        window=_window(order),
        driver_id=order.driver_id,
        stop_index=order.stop_index,
        route=route,
        late=late,
        eta=eta,
        created_at=order.created_at,
        updated_at=order.updated_at,
        closed_at=order.closed_at,
        delivery_instructions=order.delivery_instructions,
        locale=order.locale,
        preferences=Preferences(not order.email_opt_out, not order.sms_opt_out),
        timeline=msgspec.UNSET if timeline is None else [_step(e) for e in timeline],
        issues=msgspec.UNSET if feedback is None else [_issue(i) for i in feedback[0]],
        rating=msgspec.UNSET if feedback is None else _rating(feedback[1]),
    )


def _issue(issue: Issue) -> IssueView:
    return IssueView(issue.id, issue.reason, issue.text, issue.at)


def _rating(rating: Rating | None) -> RatingView | None:
    return None if rating is None else RatingView(rating.score, rating.comment, rating.at)


def _step(entry: TimelineEntry) -> Step:
    place = entry.place
    if place is None:
        return Step(entry.status.value, entry.at, entry.actor, entry.note, entry.reason)
    position = None if place.position is None else Where(place.position[1], place.position[0])
    return Step(
        entry.status.value,
        entry.at,
        entry.actor,
        entry.note,
        entry.reason,
        position,
        place.distance_m,
        place.far,
    )


def customer_order(
    order: Order,
    timeline: list[TimelineEntry],
    courier: Position | None,
    route: dict[str, Any] | None,
    eta: EtaView | None,
    expires_at: datetime | None,
    proof_photo_url: str | None = None,
    stops_before: int | None = None,
    arrived_at: datetime | None = None,
) -> CustomerOrder:
    return CustomerOrder(
        tracking_code=display(order.tracking_code),
        reference=order.reference,
        status=order.status.value,
        timeline=[CustomerStep(e.status.value, e.at, e.note) for e in timeline],
        destination=_destination(order),
        promised_by=order.promised_by,
        window=_window(order),
        courier=courier,
        route=route,
        eta=eta,
        expires_at=expires_at,
        proof_photo_url=proof_photo_url,
        delivery_instructions=order.delivery_instructions,
        stops_before=stops_before,
        arrived_at=arrived_at,
        locale=order.locale,
        time_zone=order.customer_time_zone,
    )


def customer_snapshot(view: CustomerOrder) -> bytes:
    return msgspec.json.encode(CustomerSnapshot(*msgspec.structs.astuple(view)))
