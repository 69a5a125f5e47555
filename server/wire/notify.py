"""Webhook events: the signed body (`id`, `type`, `created_at`, `data`) and the `data` of
each event type. `data` is kept in the outbox (jsonb) until it is sent, so the body is
put together from what the outbox gives back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from server.store.orders import TimelineEntry
from server.wire.live import EtaView


class TimelineStep(msgspec.Struct):
    status: str
    at: str  # ISO 8601 as Python writes it (+00:00), as webhooks have always had it
    actor: str
    note: str | None


def timeline_step(entry: TimelineEntry) -> TimelineStep:
    return TimelineStep(entry.status.value, entry.at.isoformat(), entry.actor, entry.note)


class OrderEvent(msgspec.Struct):
    """`order.<status>`, `order.arriving`, `order.delayed`."""

    order_id: int
    reference: str
    tracking_code: str
    tracking_url: str
    status: str
    eta: EtaView | None
    timeline_entry: TimelineStep | msgspec.UnsetType = msgspec.UNSET  # status changes only


class DriverPosition(msgspec.Struct):
    """`driver.position`."""

    driver_id: int
    lat: float
    lon: float
    at: datetime
    speed: float | None
    heading: float | None
    accuracy: float | None


class WebhookBody(msgspec.Struct):
    id: str  # evt_<outbox id>: the same on every retry
    type: str
    created_at: datetime
    data: dict[str, Any]


def webhook_body(outbox_id: int, event: str, created_at: datetime, data: dict[str, Any]) -> bytes:
    return msgspec.json.encode(WebhookBody(f"evt_{outbox_id}", event, created_at, data))
