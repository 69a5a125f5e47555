"""SQL for proofs of delivery, their images and upload keys, and delivery PINs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from server.store import Conn

KINDS = ("photo", "thumb", "signature")


@dataclass(frozen=True, slots=True)
class Image:
    kind: str  # photo | thumb | signature
    media_type: str
    width: int
    height: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ImageInfo:
    kind: str
    media_type: str
    width: int
    height: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Proof:
    order_id: int
    driver_id: int
    at: datetime
    recipient_name: str | None
    position: tuple[float, float] | None  # (lon, lat)
    position_at: datetime | None
    accuracy_m: float | None
    distance_m: float | None
    pin_verified: bool
    images: tuple[ImageInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class Pin:
    pin: str
    wrong_tries: int
    locked_at: datetime | None


class KeyUsed(LookupError):
    """The driver already used this Idempotency-Key (for `order_id`)."""

    def __init__(self, order_id: int) -> None:
        super().__init__(order_id)
        self.order_id = order_id


async def key_order(conn: Conn, driver_id: int, key: str) -> int | None:
    """The order an upload key of this driver was used for, if it was."""
    value = await conn.fetchval(
        "SELECT order_id FROM proof_keys WHERE driver_id = $1 AND key = $2", driver_id, key
    )
    return None if value is None else int(value)


async def save(conn: Conn, proof: Proof, images: list[Image], key: str) -> None:
    """Store the order's proof in place of any earlier one, and the key it came with;
    raises KeyUsed (nothing changed) when the key was taken meanwhile."""
    async with conn.transaction():
        try:
            await conn.execute(
                "INSERT INTO proof_keys (driver_id, key, order_id, at) VALUES ($1, $2, $3, $4)",
                proof.driver_id,
                key,
                proof.order_id,
                proof.at,
            )
        except asyncpg.UniqueViolationError:
            raise KeyUsed(await key_order(conn, proof.driver_id, key) or 0) from None
        await conn.execute("DELETE FROM proofs WHERE order_id = $1", proof.order_id)
        await conn.execute(
            """INSERT INTO proofs (order_id, driver_id, at, recipient_name, position,
                   position_at, accuracy_m, distance_m, pin_verified)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            proof.order_id,
            proof.driver_id,
            proof.at,
            proof.recipient_name,
            proof.position,
            proof.position_at,
            proof.accuracy_m,
            proof.distance_m,
            proof.pin_verified,
        )
        await conn.executemany(
            """INSERT INTO proof_images (order_id, kind, media_type, width, height, data)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            [(proof.order_id, i.kind, i.media_type, i.width, i.height, i.data) for i in images],
        )


async def get(conn: Conn, order_id: int) -> Proof | None:
    row = await conn.fetchrow(
        """SELECT order_id, driver_id, at, recipient_name, position, position_at, accuracy_m,
                  distance_m, pin_verified FROM proofs WHERE order_id = $1""",
        order_id,
    )
    if row is None:
        return None
    rows = await conn.fetch(
        """SELECT kind, media_type, width, height, octet_length(data) AS size_bytes
           FROM proof_images WHERE order_id = $1 ORDER BY kind""",
        order_id,
    )
    return Proof(**dict(row), images=tuple(ImageInfo(**dict(r)) for r in rows))


async def image(conn: Conn, order_id: int, kind: str) -> Image | None:
    row = await conn.fetchrow(
        """SELECT kind, media_type, width, height, data FROM proof_images
           WHERE order_id = $1 AND kind = $2""",
        order_id,
        kind,
    )
    return None if row is None else Image(**dict(row))


# Delivery PINs -------------------------------------------------------------------------
async def create_pin(conn: Conn, order_id: int, pin: str) -> None:
    await conn.execute("INSERT INTO delivery_pins (order_id, pin) VALUES ($1, $2)", order_id, pin)


async def pin_of(conn: Conn, order_id: int, lock: bool = False) -> Pin | None:
    """The order's PIN and its tries (`lock`: FOR UPDATE, in the caller's transaction)."""
    row = await conn.fetchrow(
        "SELECT pin, wrong_tries, locked_at FROM delivery_pins WHERE order_id = $1"
        + (" FOR UPDATE" if lock else ""),
        order_id,
    )
    return None if row is None else Pin(**dict(row))


async def wrong_pin(conn: Conn, order_id: int, max_tries: int, at: datetime) -> Pin:
    """Count a wrong try; the PIN locks at `max_tries`. Returns the PIN row after it."""
    row = await conn.fetchrow(
        """UPDATE delivery_pins SET wrong_tries = wrong_tries + 1,
               locked_at = CASE WHEN wrong_tries + 1 >= $2 THEN $3 ELSE locked_at END
           WHERE order_id = $1 RETURNING pin, wrong_tries, locked_at""",
        order_id,
        max_tries,
        at,
    )
    assert row is not None
    return Pin(**dict(row))
