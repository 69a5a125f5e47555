"""What to tell whom: the outbox messages an order event produces.

Customers hear of `confirmed`, `shipped`, `out_for_delivery`, `arriving`, `delayed`,
`delivered`, `failed` and `cancelled`, by email and SMS when they gave an address or
number and the channel is configured; each event at most once per order and channel.
Webhook subscribers hear of every status change (`order.<status>`), of `order.arriving`,
`order.delayed` and `order.issue_reported`, and of `driver.position` at their chosen rate.
A problem a customer reports is also emailed to TRACKER_SUPPORT_EMAIL when set.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from server.base import locales
from server.base.quiet_hours import quiet_until
from server.base.settings import Settings
from server.domain.codes import display
from server.domain.lifecycle import Status
from server.store.orders import Order, TimelineEntry
from server.store.outbox import NewMessage, Subscription
from server.usecases.notify import dates
from server.wire import notify as wire
from server.wire.live import EtaView

CUSTOMER_EVENTS = frozenset(
    {"confirmed", "shipped", "out_for_delivery", "arriving", "delayed", "delivered", "failed",
     "cancelled"}
)  # fmt: skip
# Sent whatever the hour: the customer needs them now.
URGENT = frozenset({"out_for_delivery", "arriving", "delayed", "delivered", "failed"})
WEBHOOK_EVENTS = frozenset(
    {f"order.{s.value}" for s in Status}
    | {"order.arriving", "order.delayed", "order.issue_reported", "driver.position"}
)


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def order_context(
    order: Order,
    settings: Settings,
    eta: EtaView | None,
    note: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """What templates and webhook payloads may use. `language`: the messages' (the order's
    locale, else TRACKER_DEFAULT_LOCALE; English when not supported). Times are written in
    that locale and the customer's zone (dates.py: dated when not today at `now`);
    `window` only when its ends differ as written (else "between 17:00 and 17:00"): then
    `eta` says it alone; its ends are dated only when not on the ETA's day."""
    zone = ZoneInfo(order.customer_time_zone or settings.default_time_zone)
    today = dates.today_in(zone, now)
    name_zone = order.customer_time_zone is None
    tag = order.locale or settings.default_locale
    locale = dates.babel_locale(tag)

    def written(at: datetime) -> str:
        return dates.written(at, zone, today, name_zone, locale)

    eta_at = None if eta is None else written(_parse(eta.eta))
    window = None
    if eta is not None and eta.window:
        # Its ends dated only when not on the ETA's day (which the ETA says already).
        eta_day = dates.today_in(zone, _parse(eta.eta))
        early, late = (dates.written(_parse(w), zone, eta_day, False, locale) for w in eta.window)
        window = [early, late] if early != late else None
    code = display(order.tracking_code)
    return {
        "order_id": order.id,
        "reference": order.reference or code,
        "tracking_code": code,
        "tracking_url": f"{settings.base_url}/t/{code}",
        "customer_name": order.customer_name,
        "status": order.status.value,
        "note": note,
        "eta": eta_at,
        "window": window,
        "eta_detail": eta,
        "promised_by": None if order.promised_by is None else written(order.promised_by),
        "language": locales.language(tag),
        "delivery_pin": None,  # out_for_delivery only, for orders with one (notifier.py)
    }


def customer_messages(
    order: Order,
    event: str,
    context: dict[str, Any],
    settings: Settings,
    now: datetime,
    occurrence: str = "",
) -> list[NewMessage]:
    """Email/SMS for the order's customer. `occurrence` distinguishes repeatable events
    (a second "delayed" with a later window)."""
    if event not in CUSTOMER_EVENTS:
        return []
    not_before = None
    if event not in URGENT:
        zone = order.customer_time_zone or settings.default_time_zone
        not_before = quiet_until(now, settings.quiet_hours, zone)
    messages = []
    targets = (
        ("email", order.customer_email if settings.smtp_host else None),
        ("sms", order.customer_phone if settings.sms_base_url else None),
    )
    for channel, target in targets:
        if target:
            key = f"order:{order.id}:{event}{occurrence}:{channel}"
            messages.append(
                NewMessage(key, order.id, event, channel, target, context, None, not_before)
            )
    return messages


def webhook_messages(
    subscriptions: list[Subscription],
    event_type: str,
    data: msgspec.Struct,
    occurrence: str,
    order_id: int | None,
) -> list[NewMessage]:
    """One message per active subscriber of `event_type`; `occurrence` makes the key unique
    per happening (a timeline entry id, a position time bucket)."""
    return [
        NewMessage(
            f"webhook:{sub.id}:{event_type}:{occurrence}",
            order_id,
            event_type,
            "webhook",
            sub.url,
            data,
            sub.id,
        )
        for sub in subscriptions
        if sub.active and (event_type in sub.events or "*" in sub.events)
    ]


def issue_messages(
    order: Order,
    issue_id: int,
    context: dict[str, Any],
    data: msgspec.Struct,
    settings: Settings,
    subscriptions: list[Subscription],
) -> list[NewMessage]:
    """A reported problem: an email to support (TRACKER_SUPPORT_EMAIL, with SMTP set up),
    whatever the hour, and `order.issue_reported` to webhook subscribers; once per issue."""
    messages = webhook_messages(
        subscriptions, "order.issue_reported", data, str(issue_id), order.id
    )
    if settings.support_email and settings.smtp_host:
        key = f"issue:{issue_id}:email"
        target = settings.support_email
        # For the operator's support team: in the operator's language, not the customer's.
        for_support = {**context, "language": locales.language(settings.default_locale)}
        messages.append(NewMessage(key, order.id, "issue_reported", "email", target, for_support))
    return messages


def message_id_for(dedupe_key: str, domain: str, installation: UUID) -> str:
    """A stable Message-ID, so a re-sent email is recognisably the same message; the
    installation's id (made by migration 0016) keeps it apart from another database's
    message with the same key (order 1's "confirmed" exists in every database)."""
    digest = hashlib.sha256(f"{installation}:{dedupe_key}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def order_data(context: dict[str, Any], entry: TimelineEntry | None) -> wire.OrderEvent:
    """The webhook payload for an order event."""
    return wire.OrderEvent(
        order_id=context["order_id"],
        reference=context["reference"],
        tracking_code=context["tracking_code"],
        tracking_url=context["tracking_url"],
        status=context["status"],
        eta=context["eta_detail"],
        timeline_entry=msgspec.UNSET if entry is None else wire.timeline_step(entry),
    )
