"""A customer hears of an order's stages in the order they happened: the outbox never
hands out a message while an earlier one about the same order to the same recipient is due
or being sent, since a claimed batch is sent concurrently (server/store/outbox.py,
claim_due); one held for a retry's backoff holds nothing back, and one held for quiet hours
comes due with the first later one (enqueue), so that it goes first: a "shipped" held until
morning is never sent after an urgent "out for delivery"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from server.store import orders as store
from server.store import outbox

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE_S = 120.0
EMAIL, PHONE = "cleo@example.com", "+351912345678"


async def an_order(db: asyncpg.Connection) -> int:
    new = store.NewOrder(
        reference="A-1", tracking_code="7KQ2M9XD3HVAPR4T", customer_name="Cleo",
        customer_email=EMAIL, customer_phone=PHONE, destination=(11.9, 50.3), address=None,
        promised_by=None, window_start=None, window_end=None,
    )  # fmt: skip
    order, _ = await store.create_order(db, new, "test", NOW)
    return order.id


def message(
    order_id: int, event: str, channel: str, target: str, not_before: datetime | None = None
) -> outbox.NewMessage:
    return outbox.NewMessage(
        f"{order_id}:{event}:{channel}", order_id, event, channel, target, {}, None, not_before
    )


async def claim(db: asyncpg.Connection, at: datetime) -> list[tuple[str, str]]:
    claimed = await outbox.claim_due(db, at, 50, LEASE_S)
    for m in claimed:
        await outbox.mark_sent(db, m.id, at)
    return sorted((m.event, m.channel) for m in claimed)


async def test_stages_due_together_go_out_one_batch_after_another(
    db: asyncpg.Connection,
) -> None:
    order_id = await an_order(db)
    await outbox.enqueue(
        db,
        [
            message(order_id, event, channel, target)
            for event in ("out_for_delivery", "delivered")
            for channel, target in (("email", EMAIL), ("sms", PHONE))
        ],
        NOW,
    )
    claimed = await outbox.claim_due(db, NOW, 50, LEASE_S)  # sent side by side
    assert sorted((m.event, m.channel) for m in claimed) == [
        ("out_for_delivery", "email"),
        ("out_for_delivery", "sms"),
    ]
    assert await outbox.claim_due(db, NOW, 50, LEASE_S) == []  # still being sent
    for m in claimed:
        await outbox.mark_sent(db, m.id, NOW)
    assert await claim(db, NOW) == [("delivered", "email"), ("delivered", "sms")]


async def test_a_stage_waiting_to_be_retried_does_not_hold_back_the_next(
    db: asyncpg.Connection,
) -> None:
    order_id = await an_order(db)
    await outbox.enqueue(db, [message(order_id, "out_for_delivery", "email", EMAIL)], NOW)
    (tried,) = await outbox.claim_due(db, NOW, 50, LEASE_S)
    await outbox.mark_failed(db, tried.id, "SMTP 451", NOW + timedelta(hours=8))  # backoff
    await outbox.enqueue(
        db,
        [
            message(order_id, "delivered", "email", EMAIL),
            message(order_id, "delivered", "sms", PHONE),
        ],
        NOW,
    )
    assert await claim(db, NOW) == [("delivered", "email"), ("delivered", "sms")]
    assert await claim(db, NOW + timedelta(hours=9)) == [("out_for_delivery", "email")]


async def test_a_stage_held_for_quiet_hours_goes_out_before_an_urgent_later_one(
    db: asyncpg.Connection,
) -> None:
    order_id = await an_order(db)
    morning = NOW + timedelta(hours=8)
    await outbox.enqueue(  # at 23:00, say: both wait until morning
        db,
        [
            message(order_id, "confirmed", "email", EMAIL, morning),
            message(order_id, "shipped", "email", EMAIL, morning),
            message(order_id, "shipped", "sms", PHONE, morning),
        ],
        NOW,
    )
    assert await claim(db, NOW) == []
    later = NOW + timedelta(hours=1)  # out for delivery is urgent: due at once
    await outbox.enqueue(db, [message(order_id, "out_for_delivery", "email", EMAIL)], later)
    sent: list[str] = []
    for _ in range(4):
        sent += [event for event, _ in await claim(db, later) if _ == "email"]
    assert sent == ["confirmed", "shipped", "out_for_delivery"]
    # The SMS had no later stage: it still waits for the morning.
    assert await claim(db, later) == []
    assert await claim(db, morning) == [("shipped", "sms")]


async def test_a_channel_the_customer_turned_off_is_skipped_not_claimed(
    db: asyncpg.Connection,
) -> None:
    order_id = await an_order(db)
    await db.execute("UPDATE orders SET email_opt_out = true WHERE id = $1", order_id)
    support = outbox.NewMessage(
        "issue:1:email", order_id, "issue_reported", "email", "support@shop.test", {}
    )
    hook = outbox.NewMessage(f"webhook:1:order.shipped:{order_id}", order_id, "order.shipped",
                             "webhook", "https://hooks.example/x", {})  # fmt: skip
    customer = [
        outbox.NewMessage(f"order:{order_id}:shipped:{c}", order_id, "shipped", c, t, {})
        for c, t in (("email", EMAIL), ("sms", PHONE))
    ]
    await outbox.enqueue(db, [*customer, support, hook], NOW)
    claimed = await outbox.claim_due(db, NOW, 50, LEASE_S)
    assert sorted(m.dedupe_key.split(":")[0] + ":" + m.channel for m in claimed) == [
        "issue:email", "order:sms", "webhook:webhook",
    ]  # fmt: skip
    log = {m.dedupe_key: m for m in await outbox.order_log(db, order_id)}
    skipped = log[f"order:{order_id}:shipped:email"]
    assert skipped.status == "skipped" and skipped.attempts == 0
    assert skipped.last_error == "skipped: the customer turned email off"
