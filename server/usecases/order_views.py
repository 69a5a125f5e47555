"""What an order looks like to dispatchers, and the narrower view its customer gets: the
decisions (lateness, what the customer may see, when the link expires); the shapes are
server/wire/orders.py."""

from __future__ import annotations

from datetime import datetime, timedelta

from server.base.settings import Settings
from server.domain import lateness
from server.domain.codes import display
from server.domain.lifecycle import OFF_RUN
from server.live.state import Live
from server.store.orders import Order, TimelineEntry
from server.store.self_service import Issue, Rating
from server.wire.live import EtaView, as_estimate
from server.wire.orders import CustomerOrder, DispatcherOrder, customer_order, dispatcher_order


def tracking_url(settings: Settings, order: Order) -> str:
    return f"{settings.base_url}/t/{display(order.tracking_code)}"


def is_late(order: Order, now: datetime, live: Live) -> bool:
    """Open and past its promise, or expected to arrive after it (server/domain/lateness.py)."""
    eta = live.etas.eta(order.id)
    return lateness.is_late(order.due_by, order.status, None if eta is None else eta.eta_at, now)


def dispatcher_view(
    order: Order,
    settings: Settings,
    now: datetime,
    live: Live,
    timeline: list[TimelineEntry] | None = None,
    feedback: tuple[list[Issue], Rating | None] | None = None,
    positions: bool = True,
) -> DispatcherOrder:
    """`positions` False (the support role): the route as assigned, never the live leg,
    which starts where the courier was."""
    return dispatcher_order(
        order,
        tracking_url(settings, order),
        (live.etas.leg(order.id) if positions else None) or order.route,
        is_late(order, now, live),
        live.etas.view(order.id),
        timeline,
        feedback,
    )


def link_expires_at(order: Order, settings: Settings) -> datetime | None:
    """When the order's link stops answering: a fixed time after it first closed
    (`closed_at` is set once; a later `returned` does not move it)."""
    if order.closed_at is None:
        return None
    return order.closed_at + timedelta(seconds=settings.tracking_link_ttl_s)


def customer_view(
    order: Order,
    timeline: list[TimelineEntry],
    live: Live,
    settings: Settings,
    proof_photo_url: str | None = None,
) -> CustomerOrder:
    """Only what the customer needs: no driver identity, no other stops, no actors.

    While the courier is visible to this order: its position (withheld near another stop),
    the ETA, and the route clear of other stops and ahead of the courier (clearance.py).
    Before that, once on a run: the expected time only, marked as an estimate.
    """
    visible = live.runs.courier_visible(order.id)
    return customer_order(
        order,
        timeline,
        live.courier_for(order.id) if visible else None,
        live.customer_route(order.id) if visible else None,
        live.customer_eta(order.id) if visible else estimate_before_dispatch(order, live),
        link_expires_at(order, settings),
        proof_photo_url,
        live.runs.stops_before(order.id),
        live.arrived_at(order.id) if visible else None,
    )


def estimate_before_dispatch(order: Order, live: Live) -> EtaView | None:
    """The order's expected time while it waits on a run (assigned, not yet out for
    delivery), from its courier's run as dispatchers see it; None off a run or unknown."""
    if order.status in OFF_RUN or live.runs.driver_of(order.id) is None:
        return None
    eta = live.etas.view(order.id)
    return None if eta is None else as_estimate(eta)
