"""The notifier: drains the outbox, and turns live tracker events into outbox rows.

Sending: due rows are claimed with a lease (`FOR UPDATE SKIP LOCKED`, so several server
processes share the work without sending twice), sent, then marked sent, or retried with
exponential backoff, or given up after `notify_max_attempts`. A crash between commit and
send leaves the row pending: it is sent after restart. A crash between send and marking
sends it again with the same event id / Message-ID (at least once, recognisably the same).

Live events (arriving, delayed, positions for webhooks) come from the fix path, which must
never wait: they go through a bounded queue to a task that writes them to the outbox. Live
state hands them over as notices (server/live/notices.py): returned to the ingest pipeline,
or given to `live_notices` (the Listener app.py wires).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import jinja2

from geo.eta import StopEta
from geo.model import Fix
from server.base.dbguard import bounded_connection
from server.base.metrics import Metrics
from server.base.networks import parse_networks
from server.base.settings import Settings
from server.domain import lateness
from server.domain.lifecycle import CLOSED, Status
from server.live.notices import Arrived, Arriving, FreshEta, Notice
from server.store import Conn, outbox, preferences, proofs
from server.store import orders as order_store
from server.store.orders import Order, TimelineEntry
from server.store.self_service import Issue
from server.usecases.notify import channels, destinations, links
from server.usecases.notify.events import (
    customer_messages,
    issue_messages,
    order_context,
    order_data,
    webhook_messages,
)
from server.usecases.notify.templates import Templates
from server.wire import notify as wire
from server.wire.live import EtaView, eta_of

log = logging.getLogger("tracker.notify")

CLAIM_BATCH = 50
LEASE_S = 120.0
SEND_CONCURRENCY = 10
LIVE_QUEUE_MAX = 10_000
# Orders whose announced delay window is remembered here: a cheap filter in front of the
# database's own record (orders.delay_announced_until), which decides. An order forgotten
# (closed, or the least recently late past this many) costs one queue item and one
# UPDATE that finds the delay announced already.
DELAY_ANNOUNCED_MAX = 10_000
SUBSCRIPTIONS_REFRESH_S = 60.0
OUTBOX_MEASURE_S = 15.0  # how often the outbox's backlog is measured for /metrics
MEASURE_BUDGET_S = 2.0  # a measurement's wait for the database


@dataclass(frozen=True, slots=True)
class _Arriving:
    order_id: int
    eta: EtaView | None


@dataclass(frozen=True, slots=True)
class _Delayed:
    order_id: int
    eta: EtaView
    eta_at: datetime
    window_end: datetime


@dataclass(frozen=True, slots=True)
class _Position:
    driver_id: int
    fix: Fix


class Notifier:
    def __init__(
        self, pool: asyncpg.Pool, settings: Settings, metrics: Metrics | None = None
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._metrics = metrics or Metrics()
        self._templates = Templates(settings.templates_dir)
        self._client = httpx.AsyncClient()  # the SMS provider: an operator's setting
        self._webhook_client = destinations.webhook_client(  # URLs from API callers
            parse_networks(settings.webhook_allow_private), settings.notify_send_timeout_s
        )
        self._wake = asyncio.Event()
        self._live: asyncio.Queue[_Arriving | _Delayed | _Position] = asyncio.Queue(LIVE_QUEUE_MAX)
        self._subscriptions: list[outbox.Subscription] = []
        # order -> the end of its announced delay window, least recently late first
        self._delay_announced: OrderedDict[int, datetime] = OrderedDict()
        # (subscription, driver) -> the last position sent: pruned to the subscriptions
        # that are active, so bounded by them times the drivers table
        self._position_sent_s: dict[tuple[int, int], float] = {}
        self._installation: preferences.Installation | None = None  # read once, kept
        self.sent = 0  # messages sent by this process (tests and metrics read it)
        self.on_arrived: Callable[[Arrived], None] | None = None  # app.py: the recorder

    # Inputs --------------------------------------------------------------------------
    def wake(self) -> None:
        """New rows were committed: look now rather than at the next poll."""
        self._wake.set()

    async def enqueue_status(
        self, conn: Conn, order: Order, entry: TimelineEntry, eta: EtaView | None
    ) -> None:
        """In the caller's transaction: the messages a status change causes."""
        now = entry.at
        context = order_context(order, self._settings, eta, entry.note, now)
        if entry.status is Status.OUT_FOR_DELIVERY:  # the PIN goes to the customer only
            pin = await proofs.pin_of(conn, order.id)
            context["delivery_pin"] = None if pin is None else pin.pin
        messages = customer_messages(order, entry.status.value, context, self._settings, now)
        subscriptions = await outbox.subscriptions(conn, active_only=True)
        messages += webhook_messages(
            subscriptions,
            f"order.{entry.status.value}",
            order_data(context, entry),
            str(entry.id),
            order.id,
        )
        await outbox.enqueue(conn, messages, now)
        if entry.status in CLOSED:  # no delay to announce any more
            self._delay_announced.pop(order.id, None)

    async def enqueue_issue(self, conn: Conn, order: Order, issue: Issue) -> None:
        """In the caller's transaction: the messages a problem the customer reported causes
        (events.issue_messages)."""
        context = order_context(order, self._settings, None, issue.text)
        context["issue_reason"] = issue.reason
        data = order_data(context, None)
        data.issue = wire.ReportedIssue(issue.id, issue.reason, issue.text, issue.at.isoformat())
        subscriptions = await outbox.subscriptions(conn, active_only=True)
        messages = issue_messages(order, issue.id, context, data, self._settings, subscriptions)
        await outbox.enqueue(conn, messages, issue.at)

    def live_notices(self, notices: Sequence[Notice]) -> None:
        """What live state found (server/live/notices.py), in the order it was found."""
        for notice in notices:
            if isinstance(notice, FreshEta):
                self.maybe_delayed(notice.order_id, notice.due_by, notice.eta, notice.status)
            elif isinstance(notice, Arriving):
                self.arriving(notice.order_id, notice.eta)
            elif self.on_arrived is not None:  # a GPS arrival, for usecases/insights
                self.on_arrived(notice)

    def arriving(self, order_id: int, eta: EtaView | None) -> None:
        self._offer(_Arriving(order_id, eta))

    def maybe_delayed(self, order_id: int, due_by: datetime, eta: StopEta, status: Status) -> None:
        """Called with every fresh ETA of an order on a run; cheap unless newly late. Only
        out for delivery is a delay announced (lateness.ANNOUNCED): nothing is remembered
        before, so the first late ETA after dispatch is told."""
        eta_at = eta.eta_at
        if not lateness.announces_delay(status):
            return
        if eta_at <= due_by + timedelta(seconds=self._settings.delay_margin_s):
            return
        announced = self._delay_announced.get(order_id)
        if announced is not None and eta_at <= announced:
            return  # still inside the window already announced
        until = max(eta.window[1], eta_at)
        announced_by_order = self._delay_announced
        announced_by_order[order_id] = until
        announced_by_order.move_to_end(order_id)
        if len(announced_by_order) > DELAY_ANNOUNCED_MAX:
            announced_by_order.popitem(last=False)
        self._offer(_Delayed(order_id, eta_of(eta), eta_at, until))

    def position(self, driver_id: int, fix: Fix) -> None:
        if not self._subscriptions:
            return  # the common case, on every fix
        t = fix.recorded_at.timestamp()
        for sub in self._subscriptions:
            if not sub.active or not ("driver.position" in sub.events or "*" in sub.events):
                continue
            last = self._position_sent_s.get((sub.id, driver_id))
            if last is None or t - last >= sub.position_interval_s:
                self._position_sent_s[(sub.id, driver_id)] = t
                self._offer(_Position(driver_id, fix))
                return  # one queue item serves every subscriber due now

    def _offer(self, item: _Arriving | _Delayed | _Position) -> None:
        try:
            self._live.put_nowait(item)
        except asyncio.QueueFull:
            log.warning("notification queue full; dropped %s", type(item).__name__)

    async def reload_subscriptions(self) -> None:
        async with bounded_connection(self._pool, self._settings.db_request_timeout_s) as conn:
            self._subscriptions = await outbox.subscriptions(conn, active_only=True)
        active = {sub.id for sub in self._subscriptions}
        for key in [k for k in self._position_sent_s if k[0] not in active]:
            del self._position_sent_s[key]

    # Running -------------------------------------------------------------------------
    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._send_forever(), name="notify-send"),
            asyncio.create_task(self._live_forever(), name="notify-live"),
            asyncio.create_task(self._refresh_forever(), name="notify-subscriptions"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def close(self) -> None:
        await self._client.aclose()
        await self._webhook_client.aclose()

    async def _refresh_forever(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.reload_subscriptions()
            await asyncio.sleep(SUBSCRIPTIONS_REFRESH_S)

    async def _send_forever(self) -> None:
        limit = asyncio.Semaphore(SEND_CONCURRENCY)
        while True:
            try:
                async with self._pool.acquire() as conn:
                    claimed = await outbox.claim_due(conn, datetime.now(UTC), CLAIM_BATCH, LEASE_S)
            except Exception as exc:  # database away: try again shortly
                log.warning("outbox unavailable: %r", exc)
                claimed = []
            if claimed:

                async def one(message: outbox.Message) -> None:
                    async with limit:
                        await self._send(message)

                await asyncio.gather(*(one(m) for m in claimed))
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.notify_poll_interval_s)

    async def installation(self) -> preferences.Installation:
        """This installation's id and link secret, read once (a request's bounded wait)."""
        if self._installation is None:
            async with bounded_connection(self._pool, self._settings.db_request_timeout_s) as c:
                self._installation = await preferences.installation(c)
        return self._installation

    async def _send(self, message: outbox.Message) -> None:
        settings = self._settings
        error: channels.SendError | None = None
        try:
            if message.channel == "webhook":
                await self._send_webhook(message)
            else:
                installation = await self.installation()
                context, unsubscribe, sms_footer = message.payload, None, True
                if message.dedupe_key.startswith("order:"):  # the customer's: their links
                    context, unsubscribe = links.with_links(
                        context, message.channel, settings, installation.secret
                    )
                    sms_footer = await links.wants_sms_footer(self._pool, message)
                rendered = self._templates.render(message.event, context, sms_footer)
                if message.channel == "email":
                    await channels.send_email(
                        message, rendered, settings, installation.id, unsubscribe
                    )
                else:
                    await channels.send_sms(message, rendered, settings, self._client)
        except channels.SendError as exc:
            error = exc
        except (jinja2.TemplateError, KeyError, TypeError) as exc:
            error = channels.SendError(f"template: {exc!r}", permanent=True)
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn:
            if error is None:
                await outbox.mark_sent(conn, message.id, now)
                self.sent += 1
                self._metrics.notify_sends.labels(message.channel, "sent").inc()
                return
            give_up = error.permanent or message.attempts >= settings.notify_max_attempts
            outcome = "failed" if give_up else "retry"
            self._metrics.notify_sends.labels(message.channel, outcome).inc()
            delay_s = min(
                settings.notify_backoff_s * 2 ** (message.attempts - 1),
                settings.notify_backoff_max_s,
            )
            await outbox.mark_failed(
                conn, message.id, str(error), None if give_up else now + timedelta(seconds=delay_s)
            )
        log.info(
            "notification %s (%s) failed, attempt %d: %s",
            message.dedupe_key,
            message.channel,
            message.attempts,
            error,
        )

    async def _send_webhook(self, message: outbox.Message) -> None:
        assert message.subscription_id is not None
        async with self._pool.acquire() as conn:
            sub = await outbox.get_subscription(conn, message.subscription_id)
        if sub is None or not sub.active:
            raise channels.SendError("subscription removed or disabled", permanent=True)
        at = datetime.now(UTC)
        status_code: int | None = None
        duration_ms = 0.0
        error: channels.SendError | None = None
        try:
            status_code, duration_ms = await channels.send_webhook(
                message, sub.secret, self._settings, self._webhook_client
            )
        except channels.SendError as exc:
            error, status_code = exc, exc.status_code
        async with self._pool.acquire() as conn:
            disabled = await outbox.record_delivery(
                conn, message, at, status_code, None if error is None else str(error), duration_ms,
                self._settings.webhook_disable_after,
            )  # fmt: skip
        if disabled is not None:
            log.warning("webhook subscription %d %s", sub.id, disabled)
            await self.reload_subscriptions()
        if error is not None:
            raise error

    async def _live_forever(self) -> None:
        while True:
            item = await self._live.get()
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    await self._record(conn, item)
                self.wake()
            except Exception as exc:  # the tracker will report it again; the key dedupes
                log.warning("could not record %s: %r", type(item).__name__, exc)

    async def _record(self, conn: Conn, item: _Arriving | _Delayed | _Position) -> None:
        now = datetime.now(UTC)
        if isinstance(item, _Position):
            await self._record_position(conn, item, now)
            return
        order = await order_store.get_order(conn, item.order_id)
        if order is None or order.status not in (Status.SHIPPED, Status.OUT_FOR_DELIVERY):
            return
        if isinstance(item, _Arriving):
            event, occurrence, eta = "arriving", "", item.eta
        else:
            if not lateness.announces_delay(order.status):  # it changed since the ETA
                return
            if not await order_store.announce_delay(conn, order.id, item.eta_at, item.window_end):
                return
            event, occurrence, eta = "delayed", f"@{item.window_end.isoformat()}", item.eta
        context = order_context(order, self._settings, eta, None, now)
        messages = customer_messages(order, event, context, self._settings, now, occurrence)
        messages += webhook_messages(
            self._subscriptions, f"order.{event}", order_data(context, None),
            f"{order.id}{occurrence}", order.id,
        )  # fmt: skip
        await outbox.enqueue(conn, messages, now)

    async def _record_position(self, conn: Conn, item: _Position, now: datetime) -> None:
        fix = item.fix
        t = fix.recorded_at.timestamp()
        data = wire.driver_position(item.driver_id, fix)
        messages = []
        for sub in self._subscriptions:
            bucket = int(t // max(sub.position_interval_s, 1.0))
            messages += webhook_messages(
                [sub], "driver.position", data, f"{item.driver_id}:{bucket}", None
            )
        await outbox.enqueue(conn, messages, now)


async def measure_outbox_forever(pool: asyncpg.Pool, metrics: Metrics) -> None:
    """Keep the outbox's backlog in /metrics (scrapes never ask the database: it may be
    what is down). Every process measures the shared outbox, sending or not."""
    while True:
        try:
            async with bounded_connection(pool, MEASURE_BUDGET_S) as conn:
                backlog = await outbox.backlog(conn, datetime.now(UTC))
        except Exception as exc:  # the database away: the last figures stand
            log.debug("outbox backlog not measured: %r", exc)
        else:
            metrics.outbox_pending.set(backlog.pending)
            metrics.outbox_oldest_due_age.set(backlog.oldest_due_age_s)
        await asyncio.sleep(OUTBOX_MEASURE_S)
