"""The courier's work on the wire: the run their socket is sent, and their actions
(arrived, delivered, failed) in over REST or the socket, with the answers.

A run stop carries what delivery needs: the customer's name, the address and their
delivery instructions, never the customer's email or phone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from server.wire import jsonin
from server.wire.live import EtaView
from server.wire.orders import Destination, Window

Key = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Note = Annotated[str, msgspec.Meta(max_length=1000)]
OrderId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


class RunStop(msgspec.Struct):
    order_id: int
    reference: str | None
    status: str
    destination: Destination
    customer_name: str
    eta: EtaView | None  # with its `window` [earliest, latest]
    promised_by: datetime | None
    window: Window | None  # the delivery window promised to the customer
    delivery_instructions: str | None = None  # the customer's, as they wrote them
    pin_required: bool = False  # the customer has a delivery PIN the courier must ask for


class RunMessage(msgspec.Struct, tag="run", tag_field="type"):
    """The courier's open stops in order: on connect, and on every change of the run."""

    stops: list[RunStop]


class ActionIn(msgspec.Struct, frozen=True):
    """`POST /api/orders/{id}/status` with a driver token (the key in `Idempotency-Key`)."""

    status: str
    reason: str | None = None
    note: Note | None = None


class ActionMessage(msgspec.Struct, frozen=True, tag="action", tag_field="type"):
    """The same over the courier socket; `id` is the idempotency key."""

    id: Key
    order_id: OrderId
    status: str
    reason: str | None = None
    note: Note | None = None


class Point(msgspec.Struct):
    lat: float
    lon: float


class ActionDone(msgspec.Struct):
    """A courier action, stored: where the courier was (their newest fix, if recent) and how
    far from the destination; `far` beyond TRACKER_ACTION_FAR_M."""

    order_id: int
    status: str
    at: datetime
    reason: str | None
    note: str | None
    position: Point | None
    distance_m: float | None
    far: bool


class ActionResult(msgspec.Struct, tag="action_result", tag_field="type", omit_defaults=True):
    """The socket's answer to an action: `ok` with the action as stored, or the `error`
    (and `code`, as the REST status would be; `allowed` for an illegal transition)."""

    id: str
    ok: bool
    done: ActionDone | None = None
    code: int | None = None
    error: str | None = None
    allowed: list[str] | None = None


encode = msgspec.json.Encoder().encode
# Our own stored answers (server/store/idempotency.py), through the guard all the same.
decode_done = jsonin.Decoder(msgspec.json.Decoder(ActionDone)).decode
