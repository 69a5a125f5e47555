"""Typed request bodies for orders, decoded and checked where they enter."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from server.base import locales

Text100 = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]

# Promises and windows outside these are typos; inside, any arithmetic on them is safe
# (year 1 or 9999 with an offset does not even convert to UTC).
EARLIEST_AT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_AT = datetime(3000, 1, 1, tzinfo=UTC)

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class CustomerIn(msgspec.Struct, frozen=True):
    name: Text200
    email: Annotated[str, msgspec.Meta(max_length=254)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    time_zone: Annotated[str, msgspec.Meta(max_length=64)] | None = None  # IANA, quiet hours


class DestinationIn(msgspec.Struct, frozen=True):
    lat: float
    lon: float
    address: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class WindowIn(msgspec.Struct, frozen=True):
    start: AwareTime
    end: AwareTime


class OrderIn(msgspec.Struct, frozen=True):
    customer: CustomerIn
    destination: DestinationIn
    reference: Text100 | None = None
    promised_by: AwareTime | None = None
    window: WindowIn | None = None
    # A delivery PIN: sent to the customer with "out for delivery", asked of the courier.
    delivery_pin: bool = False
    # The customer's language, BCP 47 ("pt-PT"): their messages and tracking page.
    locale: Annotated[str, msgspec.Meta(max_length=locales.MAX_LENGTH)] | None = None


class StatusIn(msgspec.Struct, frozen=True):
    status: str
    note: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class AssignIn(msgspec.Struct, frozen=True):
    driver_id: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
    route: Any = None
    stop_index: Annotated[int, msgspec.Meta(ge=0, le=100_000)] | None = None


class ApiKeyIn(msgspec.Struct, frozen=True):
    name: Text100
    role: str = "dispatcher"


class Invalid(ValueError):
    """A request body that decodes but makes no sense; the text says what to fix."""


def check_time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"customer.time_zone {name!r} is not an IANA time zone") from None


def compact_phone(phone: str) -> str:
    """Without the spaces, dashes, dots and brackets people write numbers with."""
    return re.sub(r"[\s\-().]", "", phone)


def normalise_phone(phone: str) -> str:
    """E.164, forgiving of spaces, dashes, dots and brackets.

    >>> normalise_phone("+351 912-345 (678)")
    '+351912345678'
    """
    compact = compact_phone(phone)
    if not _E164.match(compact):
        raise Invalid(f"customer.phone {phone!r} is not an E.164 number (like +351912345678)")
    return compact


def check_order(order: OrderIn) -> OrderIn:
    """Semantic checks beyond types; returns the order with normalised contact fields."""
    d = order.destination
    if not (math.isfinite(d.lat) and math.isfinite(d.lon)):
        raise Invalid("destination lat/lon must be finite numbers")
    if not (-90 <= d.lat <= 90 and -180 <= d.lon <= 180):
        raise Invalid("destination lat must be within -90..90 and lon within -180..180")
    customer = order.customer
    if customer.email is not None and not _EMAIL.match(customer.email):
        raise Invalid(f"customer.email {customer.email!r} is not an email address")
    phone = None if customer.phone is None else normalise_phone(customer.phone)
    promised_by = (
        None if order.promised_by is None else utc_in_range("promised_by", order.promised_by)
    )
    try:
        locale = None if order.locale is None else locales.canonical(order.locale)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    window = order.window
    if window is not None:
        window = WindowIn(
            utc_in_range("window.start", window.start), utc_in_range("window.end", window.end)
        )
        if window.start >= window.end:
            raise Invalid("window.start must be before window.end")
    return msgspec.structs.replace(
        order,
        customer=msgspec.structs.replace(customer, phone=phone),
        promised_by=promised_by,
        window=window,
        locale=locale,
    )


def utc_in_range(name: str, at: datetime) -> datetime:
    """`at` in UTC, if it lies between EARLIEST_AT and LATEST_AT.

    >>> utc_in_range("promised_by", datetime.fromisoformat("0001-01-01T00:00:00+01:00"))
    Traceback (most recent call last):
    ...
    server.edges.rest.validation.Invalid: promised_by must lie between 1970 and 3000 (UTC)
    """
    try:
        utc = at.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST_AT <= utc < LATEST_AT:
        raise Invalid(f"{name} must lie between {EARLIEST_AT.year} and {LATEST_AT.year} (UTC)")
    return utc
