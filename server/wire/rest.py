"""REST answers other than orders (server/wire/orders.py) and notifications
(server/wire/notify.py): errors, health, HTTP ingest, drivers and API keys.

Only shaping: who may read what (a driver's device id is for admins) is decided by the
handler and handed in.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from server.store.credentials import ApiKey
from server.store.queries import Driver
from server.wire.courier import Rejected

encode = msgspec.json.Encoder().encode


class Error(msgspec.Struct):
    """Every refusal, of every endpoint."""

    error: str


class TransitionRefused(msgspec.Struct):
    """409 for an illegal status change: the statuses the order may go to."""

    error: str
    allowed: list[str]


def error_body(reason: str) -> bytes:
    return encode(Error(reason))


class Alive(msgspec.Struct):
    status: str = "ok"


class Readiness(msgspec.Struct):
    status: str  # ok | degraded
    database: str
    writes: str
    write_queue_rows: int
    bus: str


class Ingested(msgspec.Struct):
    """`POST /api/ingest`: the seqs durably stored, and the fixes refused with why."""

    acked: list[int]
    rejected: list[Rejected]


class StorageBehind(msgspec.Struct):
    """503 from `POST /api/ingest`: what was stored before the wait ran out."""

    error: str
    acked: list[int]


class DriverView(msgspec.Struct):
    id: int
    name: str
    phone: str | None
    vehicle: str | None
    has_device_id: bool
    created_at: datetime
    device_id: str | msgspec.UnsetType | None = msgspec.UNSET  # admins only
    token: str | msgspec.UnsetType = msgspec.UNSET  # once, at creation or rotation


def driver_view(
    driver: Driver,
    with_device_id: bool,
    token: str | msgspec.UnsetType = msgspec.UNSET,
) -> DriverView:
    return DriverView(
        id=driver.id,
        name=driver.name,
        phone=driver.phone,
        vehicle=driver.vehicle,
        has_device_id=driver.device_id is not None,
        created_at=driver.created_at,
        device_id=driver.device_id if with_device_id else msgspec.UNSET,
        token=token,
    )


class KeyView(msgspec.Struct):
    """A key as operators see it: never the key itself."""

    id: int
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


def key_view(key: ApiKey) -> KeyView:
    return KeyView(key.id, key.name, key.role, key.created_at, key.revoked_at)


class Keys(msgspec.Struct):
    keys: list[KeyView]


class KeyCreated(msgspec.Struct):
    """The new key, shown this once."""

    id: int
    name: str
    role: str
    key: str
