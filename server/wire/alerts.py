"""Stored alerts and messages to couriers: REST answers and live messages.

Dispatchers: `GET /api/alerts` pages of `AlertView`, `POST /api/alerts/{id}/ack`; on
`WS /ws/fleet` the `alert` (server/wire/live.py, with its stored `id`) and `alert_ack`.
Couriers: on `WS /ws/driver` a `message` from dispatch. Field names and order are the
contract in docs/api.md ("Alerts and messages").
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from server.store.alerts import Alert
from server.store.messages import DriverMessage
from server.wire import jsonin

encode = msgspec.json.Encoder().encode


class AlertView(msgspec.Struct):
    id: int
    kind: str
    order_id: int | None
    driver_id: int | None
    at: datetime
    detail: str | None
    acked_at: datetime | None
    acked_by: str | None


def alert_view(alert: Alert) -> AlertView:
    return AlertView(
        alert.id, alert.kind, alert.order_id, alert.driver_id, alert.at, alert.detail,
        alert.acked_at, alert.acked_by,
    )  # fmt: skip


class AlertPage(msgspec.Struct):
    """`GET /api/alerts`: a page, and the `after` that reads the next one."""

    alerts: list[AlertView]
    next_after: int | None


class AlertAck(msgspec.Struct, tag="alert_ack", tag_field="type"):
    """To every dispatcher: the alert was acknowledged (the first acknowledgement)."""

    id: int
    acked_by: str
    acked_at: datetime


class MessageView(msgspec.Struct):
    """`POST /api/drivers/{id}/messages`: the message as stored."""

    id: int
    driver_id: int
    text: str
    sent_by: str
    at: datetime
    delivered_at: datetime | None


def message_view(message: DriverMessage) -> MessageView:
    m = message
    return MessageView(m.id, m.driver_id, m.text, m.sent_by, m.at, m.delivered_at)


class CourierMessage(msgspec.Struct, tag="message", tag_field="type"):
    """To the courier: a message from dispatch (`from`: who sent it)."""

    id: int
    text: str
    sent_by: str = msgspec.field(name="from")
    at: datetime


# How every encoded CourierMessage starts: the courier's feed spots one without decoding
# anything else that goes to the courier (server/edges/sockets/courier_feed.py).
MESSAGE_PREFIX = b'{"type":"message",'


class _MessageId(msgspec.Struct):
    id: int


# Our own bytes, through the same guard as client JSON (one rule, no exceptions to check).
_decode_id = jsonin.Decoder(msgspec.json.Decoder(_MessageId)).decode


def message_id(data: bytes) -> int:
    """The id of an encoded CourierMessage."""
    return _decode_id(data).id


def courier_message(message: DriverMessage) -> CourierMessage:
    return CourierMessage(message.id, message.text, message.sent_by, message.at)
