"""Proof of delivery and delivery PINs: who may upload, the PIN's tries, the images'
processing off the event loop, where the courier was, and what a delivery needs.

An order has one current proof: a new upload (another Idempotency-Key) replaces it; a
resend with the same key changes nothing and is answered with what is stored. The PIN is
checked before any image is decoded; each wrong one is counted and logged (never the code),
and at `delivery_pin_max_tries` it locks and dispatchers are alerted.

For the courier's `delivered` action (courier actions): `require_proof` says whether the
order may be delivered yet.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Protocol

from asyncpg.pool import PoolConnectionProxy

from geo.distance import haversine_m
from server.base.settings import Settings
from server.domain.codes import display
from server.domain.lifecycle import Status
from server.live.state import Live
from server.store import Conn, proofs
from server.store import orders as store
from server.store.orders import Order
from server.usecases import proof_images
from server.usecases.alerts import Alerts
from server.usecases.proof_images import BadImage, Limits
from server.wire import live as wire

log = logging.getLogger("tracker.proof")

# The statuses a proof may be uploaded in: `delivered` too, for a proof queued offline on
# the phone and sent after the action. By name: `arrived` comes with the courier actions.
UPLOADABLE = frozenset(s for s in Status if s.value in ("out_for_delivery", "arrived", "delivered"))
RECENT_FIX_S = 120.0  # an older fix does not say where the courier is now
PIN_LOCKED_ALERT = "pin_locked"

__all__ = ["BadImage"]


class ProofServices(Protocol):
    """What proofs use of the running app (server/edges/services.py)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def live(self) -> Live: ...
    @property
    def proof_slots(self) -> asyncio.Semaphore: ...
    @property
    def alerts(self) -> Alerts: ...
    def db(self) -> AbstractAsyncContextManager[PoolConnectionProxy]: ...


class Refused(Exception):
    """An upload refused before anything was stored; the message says why."""


class NoSuchOrder(Refused):
    pass


class NotYourOrder(Refused):
    pass


class NotUploadable(Refused):
    pass


class KeyReused(Refused):
    pass


class PinNeeded(Refused):
    """A PIN is missing or wrong (the message gives the tries left)."""


class PinLocked(Refused):
    pass


class ProofRequired(Exception):
    """The order may not be delivered yet: the message says what is missing."""


def new_pin(digits: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))


async def order_for_upload(services: ProofServices, order_id: int, driver_id: int) -> Order:
    """The order, when on this driver's run; raises NoSuchOrder, NotYourOrder."""
    async with services.db() as conn:
        order = await store.get_order(conn, order_id)
    if order is None:
        raise NoSuchOrder("no such order")
    if order.driver_id != driver_id:
        raise NotYourOrder("this order is not on your run")
    return order


def check_uploadable(order: Order) -> None:
    """Raises NotUploadable unless a proof may be uploaded in the order's status."""
    if order.status not in UPLOADABLE:
        raise NotUploadable(
            f"a proof is for an order out for delivery, arrived or delivered; this one is "
            f"{order.status.value}"
        )


async def replay(
    services: ProofServices, driver_id: int, key: str, order_id: int
) -> proofs.Proof | None:
    """What a resent upload is answered with: the order's proof when this driver already
    used `key` for it, None when the key is new. Raises KeyReused for another order's key."""
    async with services.db() as conn:
        used_for = await proofs.key_order(conn, driver_id, key)
        if used_for is None:
            return None
        if used_for != order_id:
            raise KeyReused(f"this Idempotency-Key was used for order {used_for}")
        return await proofs.get(conn, order_id)


async def check_pin(
    services: ProofServices, order: Order, driver_id: int, pin: str | None, now: datetime
) -> bool:
    """True when the order has a PIN and `pin` is it, False when it has none. Raises
    PinNeeded (missing or wrong: a try counted, logged) or PinLocked."""
    max_tries = services.settings.delivery_pin_max_tries
    async with services.db() as conn, conn.transaction():
        found = await proofs.pin_of(conn, order.id, lock=True)
        if found is None:
            return False
        if found.locked_at is not None:
            raise PinLocked(_locked(max_tries))
        if not pin:
            raise PinNeeded("this order needs the delivery PIN the customer was sent (pin)")
        if secrets.compare_digest(pin.encode(), found.pin.encode()):
            return True
        after = await proofs.wrong_pin(conn, order.id, max_tries, now)
    log.warning(
        "wrong delivery PIN for order %d from driver %d (%d of %d tries)",
        order.id, driver_id, after.wrong_tries, max_tries,
    )  # fmt: skip
    if after.locked_at is None:
        left = max_tries - after.wrong_tries
        raise PinNeeded(f"wrong delivery PIN ({left} {'try' if left == 1 else 'tries'} left)")
    await services.alerts.raise_alert(
        PIN_LOCKED_ALERT, driver_id, order.id, now, _locked(max_tries)
    )
    raise PinLocked(_locked(max_tries))


def _locked(max_tries: int) -> str:
    return (
        f"delivery PIN locked after {max_tries} wrong tries "
        "(TRACKER_DELIVERY_PIN_MAX_TRIES); dispatch has been alerted"
    )


Loader = Callable[[], Awaitable[bytes]]


async def process(
    services: ProofServices, photo: Loader | None, signature: Loader | None
) -> list[proofs.Image]:
    """The images as stored: read, decoded and re-encoded in a thread, at most
    `proof_concurrency` uploads at a time. Raises BadImage."""
    settings = services.settings
    limits = Limits(settings.proof_max_pixels, settings.proof_photo_max_px, settings.proof_thumb_px)
    images: list[proofs.Image] = []
    async with services.proof_slots:  # the bytes are read in here too: memory stays bounded
        if photo is not None:
            full, thumb = await asyncio.to_thread(proof_images.photo, await photo(), limits)
            images += [_image("photo", full), _image("thumb", thumb)]
        if signature is not None:
            drawn = await asyncio.to_thread(proof_images.signature, await signature(), limits)
            images.append(_image("signature", drawn))
    return images


def _image(kind: str, encoded: proof_images.Encoded) -> proofs.Image:
    return proofs.Image(kind, encoded.media_type, encoded.width, encoded.height, encoded.data)


async def store_proof(
    services: ProofServices,
    order: Order,
    driver_id: int,
    key: str,
    recipient_name: str | None,
    pin_verified: bool,
    images: list[proofs.Image],
    now: datetime,
) -> tuple[proofs.Proof, bool]:
    """Store the proof with where the courier is (its newest fix, if recent) and how far
    that is from the destination. Returns it and whether it is new (False: the same key
    won a race meanwhile, and what it stored is returned)."""
    position = _recent_position(services.live, driver_id, now)
    distance_m = (
        None if position is None else haversine_m(position.lon, position.lat, *order.destination)
    )
    proof = proofs.Proof(
        order_id=order.id,
        driver_id=driver_id,
        at=now,
        recipient_name=recipient_name,
        position=None if position is None else (position.lon, position.lat),
        position_at=None if position is None else position.at,
        accuracy_m=None if position is None else position.accuracy,
        distance_m=distance_m,
        pin_verified=pin_verified,
    )
    async with services.db() as conn:
        try:
            await proofs.save(conn, proof, images, key)
        except proofs.KeyUsed as exc:
            if exc.order_id != order.id:
                raise KeyReused(f"this Idempotency-Key was used for order {exc.order_id}") from None
            stored, new = await proofs.get(conn, order.id), False
        else:
            stored, new = await proofs.get(conn, order.id), True
    assert stored is not None
    return stored, new


def _recent_position(live: Live, driver_id: int, now: datetime) -> wire.Position | None:
    driver = live.fleet.drivers.get(driver_id)
    position = None if driver is None else driver.position
    if position is None or now - position.at > timedelta(seconds=RECENT_FIX_S):
        return None
    return position


async def require_proof(conn: Conn, order_id: int) -> None:
    """Call before a courier marks the order delivered (in its transaction, if any): raises
    ProofRequired when the order has a delivery PIN and no proof carries the right one.
    Orders without a PIN need nothing (a proof is welcome, before or after)."""
    pin = await proofs.pin_of(conn, order_id)
    if pin is None:
        return
    proof = await proofs.get(conn, order_id)
    if proof is None or not proof.pin_verified:
        raise ProofRequired(
            "this order has a delivery PIN: upload the proof with the customer's PIN first "
            f"(POST /api/orders/{order_id}/proof)"
        )


async def customer_photo(conn: Conn, order: Order, settings: Settings) -> proofs.Image | None:
    """The proof photo the order's customer may see: only once delivered, and only while
    TRACKER_PROOF_PHOTO_TO_CUSTOMER is on (the signature never)."""
    if not settings.proof_photo_to_customer or order.status is not Status.DELIVERED:
        return None
    return await proofs.image(conn, order.id, "photo")


def customer_photo_url(order: Order, has_photo: bool, settings: Settings) -> str | None:
    """Where the customer's view points for the photo (a path on this server), if shown."""
    if not has_photo or not settings.proof_photo_to_customer:
        return None
    if order.status is not Status.DELIVERED:
        return None
    return f"/api/track/{display(order.tracking_code)}/proof/photo"
