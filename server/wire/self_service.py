"""What customers send on their tracking link (`POST /api/track/{code}/…`) and what they
get back. Unknown fields are refused: a customer's browser is the least trusted client.

Texts are at most `MAX_TEXT` characters; control characters are refused where bodies are
decoded (server/edges/responses.py decode_body), as everywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

import msgspec

MAX_TEXT = 1000  # characters, for every free text a customer sends

Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
# A problem's kind, from a fixed list: dispatchers filter and count by it.
IssueReason = Literal["not_received", "damaged", "wrong_item", "late", "courier", "other"]
ISSUE_REASONS: tuple[str, ...] = get_args(IssueReason)
Score = Annotated[int, msgspec.Meta(ge=1, le=5)]


class InstructionsIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Delivery instructions for the courier; empty text removes them."""

    text: Text


class IssueIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A problem reported; `text` is required with `other`."""

    reason: IssueReason
    text: Text | None = None


class RatingIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    score: Score
    comment: Text | None = None


class ReattemptIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A new delivery attempt asked for after a failed one."""

    note: Text | None = None


class InstructionsView(msgspec.Struct):
    delivery_instructions: str | None
    status: str


class IssueView(msgspec.Struct):
    id: int
    reason: str
    text: str | None
    at: datetime


class RatingView(msgspec.Struct):
    score: int
    comment: str | None
    at: datetime


class ReattemptView(msgspec.Struct):
    """The order is back with dispatch, to plan the new attempt."""

    status: str
    at: datetime
    note: str | None


class WrongState(msgspec.Struct):
    """409: the order's status does not allow this now; `status` names it."""

    error: str
    status: str


class PreferencesIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which channels the customer hears of the order on; a channel left out is unchanged."""

    email: bool | None = None
    sms: bool | None = None


class PreferencesView(msgspec.Struct):
    """`channels`: those the order has a contact for (never the address or number);
    `locale`: the order's language (BCP 47) for the page to speak, null when none given."""

    email: bool
    sms: bool
    channels: list[str]
    locale: str | None
