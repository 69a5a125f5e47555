"""What a customer may do on their tracking link besides looking: leave delivery
instructions (until the order is out for delivery), report a problem, rate the delivery
(once delivered), ask for a new attempt (after a failed one).

The tracking code is the credential: the edge has looked the order up (usecases/tracking.py,
rate-limited per client, expired links unknown) and hands it in. Each use-case checks the
order's status and raises WrongState naming it; the stores re-check under a lock or in the
same statement, so a status that changed meanwhile is refused the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from server.domain.lifecycle import INSTRUCTIONS_OPEN, IllegalTransition, Status
from server.store import orders as order_store
from server.store import self_service as store
from server.store.orders import Order, TimelineEntry
from server.usecases import orders
from server.usecases.alerts import Alerts
from server.usecases.orders import OrderServices

log = logging.getLogger("tracker.self_service")

CUSTOMER = "customer"  # the actor on timelines
MAX_ISSUES_PER_ORDER = 20  # each may email support and call webhooks: bounded per order
ISSUE_ALERT = "issue_reported"
REATTEMPT_ALERT = "reattempt_requested"


class SelfServices(OrderServices, Protocol):
    """What these use-cases need of the running app (server/edges/services.py)."""

    @property
    def alerts(self) -> Alerts: ...


class WrongState(Exception):
    """The order's status does not allow this (a 409 naming the status)."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(f"{message}: the order is {status.value}")
        self.status = status


class TooManyIssues(Exception):
    def __init__(self) -> None:
        super().__init__(
            f"this order already has {MAX_ISSUES_PER_ORDER} reported problems; "
            "please contact the shop directly"
        )


class Invalid(ValueError):
    """Input the types alone cannot refuse (a 422)."""


async def set_instructions(services: SelfServices, order: Order, text: str, now: datetime) -> Order:
    """Replace the order's delivery instructions (empty text: none); the courier's run
    message carries them at once. Raises WrongState once the order is out for delivery."""
    async with services.db() as conn:
        changed = await store.set_instructions(
            conn, order.id, text.strip() or None, now, INSTRUCTIONS_OPEN
        )
    if changed is None:
        raise orders.NoSuchOrder(order.id)
    if isinstance(changed, Status):
        raise WrongState(changed, "delivery instructions can no longer be changed")
    before, after = changed
    services.live.on_order_changed(before, after, None)  # the run, on every process
    return after


async def report_issue(
    services: SelfServices, order: Order, reason: str, text: str | None, now: datetime
) -> store.Issue:
    """Store the problem with its messages (support email, `order.issue_reported`
    webhooks) in one transaction, then alert dispatchers."""
    text = (text or "").strip() or None
    if reason == "other" and text is None:
        raise Invalid("text is required with reason other: say what went wrong")
    async with services.db() as conn, conn.transaction():
        issue = await store.add_issue(conn, order.id, reason, text, now, MAX_ISSUES_PER_ORDER)
        if issue is None:
            raise TooManyIssues()
        await services.notifier.enqueue_issue(conn, order, issue)
    services.notifier.wake()
    detail = reason if text is None else f"{reason}: {text}"
    await _alert(services, ISSUE_ALERT, order, now, detail)
    return issue


async def rate(
    services: SelfServices, order: Order, score: int, comment: str | None, now: datetime
) -> store.Rating:
    """Store the delivery's rating; a later one replaces it. Delivered orders only."""
    async with services.db() as conn:
        rating = await store.rate(
            conn, order.id, score, (comment or "").strip() or None, now, Status.DELIVERED
        )
        current = order if rating is not None else await order_store.get_order(conn, order.id)
    if rating is None:
        status = order.status if current is None else current.status
        raise WrongState(status, "only a delivered order can be rated")
    return rating


async def request_reattempt(
    services: SelfServices, order: Order, note: str | None, now: datetime
) -> TimelineEntry:
    """After a failed delivery: the order goes back to `shipped`, off its run, for
    dispatch to plan the new attempt (lifecycle.REPLAN); a timeline entry and an alert."""
    if order.status is not Status.FAILED:
        raise WrongState(order.status, "a new attempt can only follow a failed delivery")
    note = (note or "").strip() or None
    try:
        _after, timeline = await orders.change_status(
            services, order.id, Status.SHIPPED, CUSTOMER, note, now
        )
    except IllegalTransition as exc:  # it changed since the lookup
        raise WrongState(exc.current, "a new attempt can only follow a failed delivery") from None
    await _alert(services, REATTEMPT_ALERT, order, now, note)
    return timeline[-1]


async def _alert(
    services: SelfServices, kind: str, order: Order, now: datetime, detail: str | None
) -> None:
    """Raise the dispatchers' alert; the customer's request is committed already, so a
    database hiccup here is logged rather than answered as a failure (a retry would
    repeat the request)."""
    try:
        await services.alerts.raise_alert(kind, order.driver_id, order.id, now, detail)
    except Exception as exc:
        log.warning("%s alert for order %d not raised: %r", kind, order.id, exc)


async def feedback(
    services: SelfServices, order_id: int
) -> tuple[list[store.Issue], store.Rating | None]:
    """What the order's customer reported and how they rated it (the order view)."""
    async with services.db() as conn:
        return await store.issues(conn, order_id), await store.rating(conn, order_id)
