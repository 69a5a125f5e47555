"""The order service: each change to an order, in the one sequence that keeps the rest
consistent.

1. Commit: the order, its timeline entry and the messages it causes (the outbox), in one
   transaction, so that a message goes out if and only if the change happened.
2. Wake the notifier: the messages are committed, send them now rather than at its next poll.
3. Tell live state (runs, ETAs, watchers, other processes), which only ever sees committed
   changes.

The REST handlers (server/edges/rest/orders.py) decode, authorise, call these and shape the
answer; what they need from the app is `OrderServices`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from asyncpg.pool import PoolConnectionProxy

from server.base.settings import Settings
from server.domain import codes
from server.domain.lifecycle import Status
from server.domain.search import Search
from server.live.state import Live
from server.store import order_lists, proofs, queries
from server.store import orders as store
from server.store.orders import NewOrder, Order, TimelineEntry
from server.usecases import proof
from server.usecases.insights import facts
from server.usecases.notify.notifier import Notifier


class OrderServices(Protocol):
    """What the order service uses of the running app (server/edges/services.py)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def live(self) -> Live: ...
    @property
    def notifier(self) -> Notifier: ...
    def db(self) -> AbstractAsyncContextManager[PoolConnectionProxy]: ...


class NoSuchOrder(LookupError):
    pass


class NoSuchDriver(LookupError):
    def __init__(self, driver_id: int) -> None:
        super().__init__(f"no driver with id {driver_id}")


async def create(
    services: OrderServices, new: NewOrder, actor: str, now: datetime, delivery_pin: bool = False
) -> tuple[Order, list[TimelineEntry]]:
    """A new `confirmed` order under a fresh tracking code (whatever `new` has is replaced),
    with its timeline, and a delivery PIN drawn for it if asked (usecases/proof.py)."""
    async with services.db() as conn:
        while True:  # a collision of 80 random bits will not happen; if it does, draw again
            new = dataclasses.replace(
                new, tracking_code=codes.new_code(), pin_required=delivery_pin
            )
            try:
                async with conn.transaction():  # the order, its timeline and its messages
                    order, entry = await store.create_order(conn, new, actor, now)
                    if delivery_pin:
                        pin = proof.new_pin(services.settings.delivery_pin_digits)
                        await proofs.create_pin(conn, order.id, pin)
                    await services.notifier.enqueue_status(conn, order, entry, None)
                break
            except store.DuplicateTrackingCode:
                continue
        timeline = await store.timeline(conn, order.id)
    committed(services, None, order, entry)
    return order, timeline


async def change_status(
    services: OrderServices,
    order_id: int,
    wanted: Status,
    actor: str,
    note: str | None,
    now: datetime,
) -> tuple[Order, list[TimelineEntry]]:
    """Move the order to `wanted`; returns it and its timeline. Raises NoSuchOrder, or
    IllegalTransition (server/domain/lifecycle.py) when the lifecycle does not allow it."""
    async with services.db() as conn:
        async with conn.transaction():  # status, timeline entry and messages together
            before, after, entry = await change_status_in(
                services, conn, order_id, wanted, actor, note, now
            )
        timeline = await store.timeline(conn, order_id)
    committed(services, before, after, entry)
    return after, timeline


async def change_status_in(
    services: OrderServices,
    conn: PoolConnectionProxy,
    order_id: int,
    wanted: Status,
    actor: str,
    note: str | None,
    now: datetime,
    reason: str | None = None,
    place: store.Place | None = None,
) -> tuple[Order, Order, TimelineEntry]:
    """Step 1 inside the caller's transaction (which may hold more, e.g. a courier's
    idempotency key): the status, its timeline entry and its messages. The caller calls
    `committed` once the transaction has committed. Raises as `change_status`."""
    changed = await store.change_status(conn, order_id, wanted, actor, note, now, reason, place)
    if changed is None:
        raise NoSuchOrder(order_id)
    before, after, entry = changed
    if services.settings.insights_recording:  # the performance facts (issue 18)
        await facts.status_changed(conn, after, entry)
    await services.notifier.enqueue_status(conn, after, entry, services.live.etas.view(order_id))
    return before, after, entry


def committed(
    services: OrderServices, before: Order | None, after: Order, entry: TimelineEntry
) -> None:
    """Steps 2 and 3, once a status change is committed: wake the notifier for its new
    outbox rows, then tell live state."""
    services.notifier.wake()
    services.live.on_order_changed(before, after, entry)


async def assign(
    services: OrderServices,
    order_id: int,
    driver_id: int,
    route: Any,
    stop_index: int | None,
    now: datetime,
) -> Order:
    """Put the order on the driver's run (at `stop_index`, or last). Raises NoSuchDriver,
    store.NotAssignable, store.RunFull or NoSuchOrder, checked in that order. No status
    changes, so no messages."""
    async with services.db() as conn:
        driver = await queries.get_driver(conn, driver_id)
        if driver is None:
            raise NoSuchDriver(driver_id)
        before = await store.get_order(conn, order_id)
        async with conn.transaction():  # the run and the attempt's facts together
            assigned = await store.assign(
                conn, order_id, driver.id, route, stop_index, now,
                services.settings.max_stops_per_run,
            )  # fmt: skip
            if before is None or assigned is None:
                raise NoSuchOrder(order_id)
            if services.settings.insights_recording:
                await facts.assigned(conn, order_id, now)
        after, shifted = assigned
    services.live.fleet.add_driver(driver.id, driver.name, driver.vehicle)
    # One change, with the stops the insertion moved down: each run is rebuilt once.
    services.live.on_order_changed(before, after, None, shifted)
    return after


async def get(services: OrderServices, order_id: int) -> tuple[Order, list[TimelineEntry]]:
    """The order and its timeline; raises NoSuchOrder."""
    async with services.db() as conn:
        order = await store.get_order(conn, order_id)
        if order is None:
            raise NoSuchOrder(order_id)
        return order, await store.timeline(conn, order.id)


async def timeline(services: OrderServices, order_id: int) -> list[TimelineEntry]:
    async with services.db() as conn:
        return await store.timeline(conn, order_id)


def etas_for_lateness(live: Live, late: bool | None) -> dict[int, datetime]:
    """The ETA of every order on a run, by order id, when a `late` filter needs them
    (server/domain/lateness.py); none when it does not."""
    if late is None:
        return {}
    return {int(e.stop_id): e.eta_at for d in live.runs.drivers() for e in live.etas.driver_etas(d)}


async def find(
    services: OrderServices,
    *,
    statuses: Sequence[Status] | None,
    driver_id: int | None,
    late: bool | None,
    now: datetime,
    limit: int,
    after_id: int,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    search: Search | None = None,
    exact: order_lists.Exact = order_lists.ANY,
) -> list[Order]:
    """A page of orders by id; `late` filters by server/domain/lateness.py at `now`, with
    the ETAs live state holds (every order on a run that has one); `search` and `exact`
    are customer service's (server/domain/search.py)."""
    eta_at = etas_for_lateness(services.live, late)
    async with services.db() as conn:
        return await order_lists.list_orders(
            conn,
            statuses=None if statuses is None else [s.value for s in statuses],
            driver_id=driver_id,
            late=late,
            now=now,
            eta_at=eta_at,
            limit=limit,
            after_id=after_id,
            created_from=created_from,
            created_to=created_to,
            search=search,
            exact=exact,
        )
