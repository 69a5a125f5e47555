"""What an order looks like to dispatchers, and the narrower view its customer gets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from server.base.settings import Settings
from server.domain import lateness
from server.domain.codes import display
from server.live.state import Live
from server.store.orders import Order, TimelineEntry


def tracking_url(settings: Settings, order: Order) -> str:
    return f"{settings.base_url}/t/{display(order.tracking_code)}"


def _window(order: Order) -> dict[str, datetime] | None:
    if order.window_start is None or order.window_end is None:
        return None
    return {"start": order.window_start, "end": order.window_end}


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
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": order.id,
        "reference": order.reference,
        "tracking_code": display(order.tracking_code),
        "tracking_url": tracking_url(settings, order),
        "status": order.status.value,
        "customer": {
            "name": order.customer_name,
            "email": order.customer_email,
            "phone": order.customer_phone,
        },
        "destination": _destination(order),
        "promised_by": order.promised_by,
        "window": _window(order),
        "driver_id": order.driver_id,
        "stop_index": order.stop_index,
        "route": live.etas.leg(order.id) or order.route,
        "late": is_late(order, now, live),
        "eta": live.etas.view(order.id),
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "closed_at": order.closed_at,
    }
    if timeline is not None:
        view["timeline"] = [
            {"status": e.status.value, "at": e.at, "actor": e.actor, "note": e.note}
            for e in timeline
        ]
    return view


def _destination(order: Order) -> dict[str, Any]:
    return {"lat": order.destination[1], "lon": order.destination[0], "address": order.address}


def link_expires_at(order: Order, settings: Settings) -> datetime | None:
    """When the order's link stops answering: a fixed time after it first closed
    (`closed_at` is set once; a later `returned` does not move it)."""
    if order.closed_at is None:
        return None
    return order.closed_at + timedelta(seconds=settings.tracking_link_ttl_s)


def customer_view(
    order: Order, timeline: list[TimelineEntry], live: Live, settings: Settings
) -> dict[str, Any]:
    """Only what the customer needs: no driver identity, no other stops, no actors.

    While the courier is visible to this order: its position (withheld near another stop),
    the ETA, and the route clear of other stops and ahead of the courier (clearance.py).
    """
    visible = live.runs.courier_visible(order.id)
    return {
        "tracking_code": display(order.tracking_code),
        "reference": order.reference,
        "status": order.status.value,
        "timeline": [{"status": e.status.value, "at": e.at, "note": e.note} for e in timeline],
        "destination": _destination(order),
        "promised_by": order.promised_by,
        "window": _window(order),
        "courier": live.courier_for(order.id) if visible else None,
        "route": live.customer_route(order.id) if visible else None,
        "eta": live.customer_eta(order.id) if visible else None,
        "expires_at": link_expires_at(order, settings),
    }
