"""SQL for the notification outbox, webhook subscriptions and the webhook delivery log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from server.store import Conn


@dataclass(frozen=True, slots=True)
class NewMessage:
    dedupe_key: str
    order_id: int | None
    event: str
    channel: str  # email | sms | webhook
    target: str  # address, phone number, or webhook URL
    payload: dict[str, Any] | msgspec.Struct  # a template's context, or a webhook's data
    subscription_id: int | None = None
    not_before: datetime | None = None  # quiet hours


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    dedupe_key: str
    order_id: int | None
    event: str
    channel: str
    target: str
    subscription_id: int | None
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


_COLUMNS = """id, dedupe_key, order_id, event, channel, target, subscription_id, payload,
    status, attempts, next_attempt_at, last_error, created_at, sent_at"""


async def enqueue(conn: Conn, messages: list[NewMessage], now: datetime) -> int:
    """Add messages (in the caller's transaction); ones whose key exists are skipped.

    Returns how many were new.
    """
    if not messages:
        return 0
    status = await conn.execute(
        """
        INSERT INTO outbox (dedupe_key, order_id, event, channel, target, subscription_id,
                            payload, next_attempt_at, created_at)
        SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                             $6::bigint[], $7::jsonb[], $8::timestamptz[], $9::timestamptz[])
        ON CONFLICT (dedupe_key) DO NOTHING""",
        [m.dedupe_key for m in messages],
        [m.order_id for m in messages],
        [m.event for m in messages],
        [m.channel for m in messages],
        [m.target for m in messages],
        [m.subscription_id for m in messages],
        [m.payload for m in messages],
        [m.not_before or now for m in messages],
        [now] * len(messages),
    )
    order_ids = sorted({m.order_id for m in messages if m.order_id is not None})
    if order_ids:
        await _keep_stage_order(conn, order_ids)
    return int(status.rsplit(" ", 1)[1])


async def _keep_stage_order(conn: Conn, order_ids: list[int]) -> None:
    """A message held for quiet hours (never tried yet) comes due with the first later one
    to the same recipient about the same order, so that claim_due sends it first: a
    "shipped" held until morning never follows an urgent "out for delivery"."""
    await conn.execute(
        """
        UPDATE outbox held SET next_attempt_at = later.due
        FROM (SELECT h.id, min(l.next_attempt_at) AS due
              FROM outbox h JOIN outbox l
                ON l.order_id = h.order_id AND l.channel = h.channel AND l.target = h.target
               AND l.id > h.id AND l.status = 'pending'
               AND l.next_attempt_at < h.next_attempt_at
              WHERE h.order_id = ANY($1::bigint[]) AND h.status = 'pending'
                AND h.attempts = 0 AND h.channel <> 'webhook'
              GROUP BY h.id) later
        WHERE held.id = later.id""",
        order_ids,
    )


# A customer's message (key `order:…`) on a channel they turned off for its order.
_OPTED_OUT = """o.channel IN ('email', 'sms') AND o.dedupe_key LIKE 'order:%' AND EXISTS (
    SELECT 1 FROM orders WHERE orders.id = o.order_id
      AND ((o.channel = 'email' AND orders.email_opt_out)
           OR (o.channel = 'sms' AND orders.sms_opt_out)))"""


async def skip_opted_out(conn: Conn, now: datetime) -> int:
    """Due customer messages on a channel the customer turned off for their order are not
    sent: they are marked `skipped`, with why, in the order's notification log."""
    status = await conn.execute(
        f"""
        UPDATE outbox o SET status = 'skipped', claimed_until = NULL,
               last_error = 'skipped: the customer turned ' || o.channel || ' off'
        WHERE o.status = 'pending' AND o.next_attempt_at <= $1 AND {_OPTED_OUT}""",
        now,
    )
    return int(status.rsplit(" ", 1)[1])


async def customer_sms_sent(conn: Conn, order_id: int) -> bool:
    """Has an SMS about this order gone to its customer already (the first carries the
    preferences link; notify/links.py)?"""
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM outbox WHERE order_id = $1 AND channel = 'sms'
                              AND status = 'sent' AND dedupe_key LIKE 'order:%')""",
            order_id,
        )
    )


async def claim_due(conn: Conn, now: datetime, limit: int, lease_s: float) -> list[Message]:
    """Take up to `limit` due messages for sending, leased for `lease_s` so that another
    notifier (another process) skips them; a crashed sender's lease simply runs out.

    A message waits while an earlier one about the same order to the same recipient is due
    or being sent: batches are sent concurrently, and a customer must not hear "delivered"
    before "out for delivery" when both came due together. So a batch holds at most one
    message per recipient and order. One held for later (quiet hours hold what is not
    urgent; a retry's backoff) holds nothing back, except that quiet hours end for it when
    a later one comes due (enqueue). First, what the customer opted out of is skipped."""
    await skip_opted_out(conn, now)
    rows = await conn.fetch(
        f"""
        UPDATE outbox SET claimed_until = $1 + make_interval(secs => $3), attempts = attempts + 1
        WHERE id IN (
            SELECT id FROM outbox o
            WHERE status = 'pending' AND next_attempt_at <= $1
              AND (claimed_until IS NULL OR claimed_until < $1)
              AND NOT ({_OPTED_OUT})  -- turned off since the skip above: the next one
              AND NOT EXISTS (  -- never ahead of an earlier one (see above)
                  SELECT 1 FROM outbox earlier
                  WHERE earlier.order_id = o.order_id AND earlier.id < o.id
                    AND earlier.status = 'pending' AND earlier.next_attempt_at <= $1
                    AND earlier.channel = o.channel
                    AND earlier.target = o.target)
            ORDER BY next_attempt_at, id LIMIT $2
            FOR UPDATE SKIP LOCKED)
        RETURNING {_COLUMNS}""",
        now,
        limit,
        lease_s,
    )
    return [Message(**dict(r)) for r in rows]


async def mark_sent(conn: Conn, message_id: int, now: datetime) -> None:
    await conn.execute(
        """UPDATE outbox SET status = 'sent', sent_at = $2, claimed_until = NULL,
                             last_error = NULL WHERE id = $1""",
        message_id,
        now,
    )


async def mark_failed(conn: Conn, message_id: int, error: str, retry_at: datetime | None) -> None:
    """A failed attempt: retry at `retry_at`, or give up (None)."""
    await conn.execute(
        """UPDATE outbox SET last_error = $2, claimed_until = NULL,
               status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
               next_attempt_at = coalesce($3, next_attempt_at)
           WHERE id = $1""",
        message_id,
        error[:1000],
        retry_at,
    )


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int  # not yet sent nor given up, due or not (quiet hours, backoff)
    oldest_due_age_s: float  # since the oldest due one was written; 0: none due


async def backlog(conn: Conn, now: datetime) -> Backlog:
    """What waits in the outbox (the `outbox_due` index holds exactly the pending rows)."""
    row = await conn.fetchrow(
        """SELECT count(*) AS pending,
                  coalesce(extract(epoch FROM $1 - min(created_at)
                                   FILTER (WHERE next_attempt_at <= $1)), 0) AS oldest_due_age_s
           FROM outbox WHERE status = 'pending'""",
        now,
    )
    assert row is not None
    return Backlog(int(row["pending"]), max(0.0, float(row["oldest_due_age_s"])))


async def order_log(conn: Conn, order_id: int) -> list[Message]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM outbox WHERE order_id = $1 ORDER BY id", order_id
    )
    return [Message(**dict(r)) for r in rows]


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    url: str
    events: list[str]
    secret: str
    position_interval_s: float
    active: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime


_SUB_COLUMNS = """id, url, events, secret, position_interval_s, active, disabled_reason,
    consecutive_failures, created_at"""


async def create_subscription(
    conn: Conn, url: str, events: list[str], secret: str, position_interval_s: float
) -> Subscription:
    row = await conn.fetchrow(
        f"""INSERT INTO webhook_subscriptions (url, events, secret, position_interval_s)
            VALUES ($1, $2, $3, $4) RETURNING {_SUB_COLUMNS}""",
        url,
        events,
        secret,
        position_interval_s,
    )
    assert row is not None
    return Subscription(**dict(row))


async def subscriptions(conn: Conn, *, active_only: bool = False) -> list[Subscription]:
    rows = await conn.fetch(
        f"SELECT {_SUB_COLUMNS} FROM webhook_subscriptions WHERE active OR NOT $1 ORDER BY id",
        active_only,
    )
    return [Subscription(**dict(r)) for r in rows]


async def get_subscription(conn: Conn, subscription_id: int) -> Subscription | None:
    row = await conn.fetchrow(
        f"SELECT {_SUB_COLUMNS} FROM webhook_subscriptions WHERE id = $1", subscription_id
    )
    return None if row is None else Subscription(**dict(row))


async def delete_subscription(conn: Conn, subscription_id: int) -> bool:
    status = await conn.execute("DELETE FROM webhook_subscriptions WHERE id = $1", subscription_id)
    return status.endswith(" 1")


async def enable_subscription(conn: Conn, subscription_id: int) -> Subscription | None:
    row = await conn.fetchrow(
        f"""UPDATE webhook_subscriptions
            SET active = true, disabled_reason = NULL, consecutive_failures = 0
            WHERE id = $1 RETURNING {_SUB_COLUMNS}""",
        subscription_id,
    )
    return None if row is None else Subscription(**dict(row))


async def record_delivery(
    conn: Conn,
    message: Message,
    at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: float,
    disable_after: int,
) -> str | None:
    """Log one webhook attempt and keep the subscription's failure count. Returns the reason
    when this failure disabled the subscription (its pending messages are cancelled)."""
    assert message.subscription_id is not None
    async with conn.transaction():
        await conn.execute(
            """INSERT INTO webhook_deliveries
                   (subscription_id, outbox_id, event, attempt, at, status_code, error, duration_ms)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            message.subscription_id,
            message.id,
            message.event,
            message.attempts,
            at,
            status_code,
            None if error is None else error[:1000],
            duration_ms,
        )
        if error is None:
            await conn.execute(
                "UPDATE webhook_subscriptions SET consecutive_failures = 0 WHERE id = $1",
                message.subscription_id,
            )
            return None
        failures = await conn.fetchval(
            """UPDATE webhook_subscriptions SET consecutive_failures = consecutive_failures + 1
               WHERE id = $1 RETURNING consecutive_failures""",
            message.subscription_id,
        )
        if failures is None or failures < disable_after:
            return None
        reason = f"disabled after {failures} failed deliveries in a row; last: {error[:300]}"
        disabled = await conn.execute(
            """UPDATE webhook_subscriptions SET active = false, disabled_reason = $2
               WHERE id = $1 AND active""",
            message.subscription_id,
            reason,
        )
        if not disabled.endswith(" 1"):
            return None  # a concurrent delivery disabled it already
        await conn.execute(
            """UPDATE outbox SET status = 'cancelled', last_error = $2
               WHERE subscription_id = $1 AND status = 'pending'""",
            message.subscription_id,
            "subscription disabled",
        )
        return reason


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    outbox_id: int
    event: str
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


async def deliveries(conn: Conn, subscription_id: int, limit: int) -> list[Delivery]:
    rows = await conn.fetch(
        """SELECT id, outbox_id, event, attempt, at, status_code, error, duration_ms
           FROM webhook_deliveries WHERE subscription_id = $1 ORDER BY id DESC LIMIT $2""",
        subscription_id,
        limit,
    )
    return [Delivery(**dict(r)) for r in rows]
