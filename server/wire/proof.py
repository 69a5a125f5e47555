"""Proof of delivery as dispatchers (and the uploading courier) see it: metadata and the
URLs of the images, never the image bytes in JSON."""

from __future__ import annotations

from datetime import datetime

import msgspec


class ProofPosition(msgspec.Struct):
    """Where the courier was: its newest fix, when at most 120 s old at the upload."""

    lat: float
    lon: float
    at: datetime
    accuracy_m: float | None


class ProofImage(msgspec.Struct):
    url: str  # a path on this server (GET with the same API key)
    media_type: str
    size_bytes: int
    width: int
    height: int


class ProofView(msgspec.Struct):
    order_id: int
    driver_id: int
    at: datetime
    recipient_name: str | None
    position: ProofPosition | None
    distance_m: float | None  # from `position` to the destination
    pin_verified: bool  # the customer's delivery PIN was given (orders with one)
    photo: ProofImage | None
    photo_thumb: ProofImage | None
    signature: ProofImage | None


class ProofForm(msgspec.Struct):
    """The multipart/form-data fields of an upload (documentation only: parts, not JSON).
    At least one of `photo` and `signature`; `pin` when the order has a delivery PIN."""

    photo: bytes | None = None
    signature: bytes | None = None
    recipient_name: str | None = None
    pin: str | None = None
