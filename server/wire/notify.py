"""Webhook events: the signed body (`id`, `type`, `created_at`, `data`) and the `data` of
each event type. `data` is kept in the outbox (jsonb) until it is sent, so the body is
put together from what the outbox gives back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from geo.model import Fix
from server.store.orders import TimelineEntry
from server.store.outbox import Delivery, Message, Subscription
from server.wire.live import EtaView, Position, position_of


class TimelineStep(msgspec.Struct):
    status: str
    at: str  # ISO 8601 as Python writes it (+00:00), as webhooks have always had it
    actor: str
    note: str | None


def timeline_step(entry: TimelineEntry) -> TimelineStep:
    return TimelineStep(entry.status.value, entry.at.isoformat(), entry.actor, entry.note)


class ReportedIssue(msgspec.Struct):
    """A problem the customer reported on their tracking link (`order.issue_reported`)."""

    id: int
    reason: str
    text: str | None
    at: str  # ISO 8601, as timeline entries


class OrderEvent(msgspec.Struct):
    """`order.<status>`, `order.arriving`, `order.delayed`, `order.issue_reported`."""

    order_id: int
    reference: str
    tracking_code: str
    tracking_url: str
    status: str
    eta: EtaView | None
    timeline_entry: TimelineStep | msgspec.UnsetType = msgspec.UNSET  # status changes only
    issue: ReportedIssue | msgspec.UnsetType = msgspec.UNSET  # order.issue_reported only


class DriverPosition(Position):
    """`driver.position`: a position as watchers see it, and whose it is. (Key order is
    the outbox's: jsonb keeps keys its own way.)"""

    driver_id: int


def driver_position(driver_id: int, fix: Fix) -> DriverPosition:
    p = position_of(fix)
    return DriverPosition(p.lat, p.lon, p.at, p.speed, p.heading, p.accuracy, driver_id)


class WebhookBody(msgspec.Struct):
    id: str  # evt_<outbox id>: the same on every retry
    type: str
    created_at: datetime
    data: dict[str, Any]


def webhook_body(outbox_id: int, event: str, created_at: datetime, data: dict[str, Any]) -> bytes:
    return msgspec.json.encode(WebhookBody(f"evt_{outbox_id}", event, created_at, data))


# REST: `/api/webhooks…` and an order's notification log ------------------------------
class SubscriptionView(msgspec.Struct):
    id: int
    url: str
    events: list[str]
    position_interval_s: float
    active: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime
    secret: str | msgspec.UnsetType = msgspec.UNSET  # once, at creation


def subscription_view(sub: Subscription, with_secret: bool) -> SubscriptionView:
    return SubscriptionView(
        id=sub.id,
        url=sub.url,
        events=sub.events,
        position_interval_s=sub.position_interval_s,
        active=sub.active,
        disabled_reason=sub.disabled_reason,
        consecutive_failures=sub.consecutive_failures,
        created_at=sub.created_at,
        secret=sub.secret if with_secret else msgspec.UNSET,
    )


class DeliveryView(msgspec.Struct):
    """One attempt to deliver a webhook event."""

    id: int
    event_id: str
    event: str
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


def delivery_view(d: Delivery) -> DeliveryView:
    return DeliveryView(
        d.id, f"evt_{d.outbox_id}", d.event, d.attempt, d.at, d.status_code, d.error,
        round(d.duration_ms, 1),
    )  # fmt: skip


class SentView(msgspec.Struct):
    """One message of an order's notification log."""

    event: str
    channel: str
    target: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None  # while pending
    last_error: str | None


def sent_view(m: Message) -> SentView:
    return SentView(
        m.event, m.channel, m.target, m.status, m.attempts, m.created_at, m.sent_at,
        m.next_attempt_at if m.status == "pending" else None, m.last_error,
    )  # fmt: skip
