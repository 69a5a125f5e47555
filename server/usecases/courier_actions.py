"""Courier actions: a courier says they arrived at, delivered or failed one of their own
orders, over REST or their socket, with an idempotency key.

One path with dispatch's status changes (orders.change_status_in, then `committed`: commit
-> outbox -> notifier -> live), plus what only couriers have:

- Only their own run: an order that is not on the caller's run (another driver's, on no
  run, or no order at all) is refused alike (403), revealing nothing.
- Idempotent: the key is locked, looked up and the answer stored in the same transaction
  as the change, so a resend (after a lost answer, or racing the first) is stored once and
  answered alike; the same key with a different action is a 422. Only successes are kept:
  a refused action changed nothing, and its retry is judged afresh.
- Where it happened: the courier's newest fix if recent (RECENT_FIX_S), its distance to the
  destination; beyond `action_far_m` the entry is flagged `far` and dispatchers alerted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from geo.distance import haversine_m
from server.domain.lifecycle import COURIER_SETS, IllegalTransition, Status
from server.store import idempotency
from server.store import orders as store
from server.store.orders import Place, TimelineEntry
from server.store.queries import Driver
from server.usecases import orders, proof
from server.usecases.alerts import Alerts
from server.usecases.orders import OrderServices
from server.wire.courier_actions import ActionDone, Point, decode_done, encode

REASONS = ("not_home", "refused", "address_not_found", "no_access", "damaged", "other")
RECENT_FIX_S = 120.0  # an older fix does not say where the courier is now
FAR_ALERT = "far_from_address"
NOT_YOURS = "this order is not on your run"


@dataclass(frozen=True, slots=True)
class Action:
    order_id: int
    status: Status
    reason: str | None
    note: str | None

    def fingerprint(self) -> str:
        """What a resend under the same key must repeat exactly."""
        parts = (str(self.order_id), self.status.value, self.reason or "", self.note or "")
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class Refused(Exception):
    """The action is not done: `code` is the HTTP status it answers with."""

    def __init__(self, code: int, message: str, allowed: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.allowed = allowed


def check(order_id: int, status: str, reason: str | None, note: str | None) -> Action:
    """The action, or Refused(403/422) naming what is wrong with it."""
    try:
        wanted = Status(status)
    except ValueError:
        wanted = None
    if wanted not in COURIER_SETS:
        allowed = ", ".join(sorted(s.value for s in COURIER_SETS))
        raise Refused(403, f"a courier may set only {allowed}; {status!r} is dispatch's")
    assert wanted is not None
    if wanted is Status.FAILED:
        if reason not in REASONS:
            raise Refused(422, f"reason must be one of {', '.join(REASONS)} for failed")
        if reason == "other" and not (note and note.strip()):
            raise Refused(422, 'a note is required with reason "other"')
    elif reason is not None:
        raise Refused(422, "reason is only for failed")
    return Action(order_id, wanted, reason, note)


class ActionServices(OrderServices, Protocol):
    """What courier actions use besides the order service: stored alerts."""

    @property
    def alerts(self) -> Alerts: ...


async def perform(
    services: ActionServices, driver: Driver, key: str, action: Action, now: datetime
) -> ActionDone:
    """Do the action once per key; raises Refused (403, 409, 422)."""
    fingerprint = action.fingerprint()
    async with services.db() as conn, conn.transaction():
        await idempotency.lock(conn, driver.id, key)
        stored = await idempotency.find(conn, driver.id, key, now)
        if stored is not None:
            if stored.request_hash != fingerprint:
                raise Refused(422, "this Idempotency-Key was used for a different action")
            return decode_done(stored.response)
        order = await store.get_order(conn, action.order_id)
        if order is None or order.driver_id != driver.id or order.stop_index is None:
            raise Refused(403, NOT_YOURS)
        place = _place(services, driver.id, order.destination, now)
        if action.status is Status.DELIVERED:
            try:  # an order with a delivery PIN: only with a proof that carries it
                await proof.require_proof(conn, action.order_id)
            except proof.ProofRequired as exc:
                raise Refused(409, str(exc)) from None
        try:
            before, after, entry = await orders.change_status_in(
                services,
                conn,
                action.order_id,
                action.status,
                f"driver:{driver.id}",
                action.note,
                now,
                action.reason,
                place,
            )
        except IllegalTransition as exc:
            raise Refused(409, str(exc), exc.allowed) from None
        done = _done(action.order_id, entry)
        answer = idempotency.Stored(fingerprint, 200, encode(done))
        await idempotency.save(conn, driver.id, key, answer, now)
    orders.committed(services, before, after, entry)
    if done.far:
        detail = f"{done.distance_m:.0f} m from the address"
        await services.alerts.raise_alert(FAR_ALERT, driver.id, action.order_id, now, detail)
    return done


def _place(
    services: OrderServices, driver_id: int, destination: tuple[float, float], now: datetime
) -> Place:
    """Where the courier is by their newest fix (None unless recent: no distance then, and
    no flag), and how far that is from the destination."""
    fix = services.live.last_fix(driver_id)
    if fix is None or (now - fix.recorded_at).total_seconds() > RECENT_FIX_S:
        return Place(None, None, False)
    distance_m = round(haversine_m(fix.lon, fix.lat, *destination), 1)
    return Place((fix.lon, fix.lat), distance_m, distance_m > services.settings.action_far_m)


def _done(order_id: int, entry: TimelineEntry) -> ActionDone:
    place = entry.place
    position = None if place is None else place.position
    return ActionDone(
        order_id=order_id,
        status=entry.status.value,
        at=entry.at,
        reason=entry.reason,
        note=entry.note,
        position=None if position is None else Point(position[1], position[0]),
        distance_m=None if place is None or place.distance_m is None else place.distance_m,
        far=place is not None and place.far,
    )
