"""Notifications end to end, against a real SMTP server and a real HTTP receiver."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from server.base.settings import Settings
from server.usecases.notify.signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.receivers import HttpReceiver, MailBox

EMAIL, PHONE = "cleo@example.com", "+351912345678"
DEG_PER_KM = 0.01407  # of longitude at lat 50.30
ROUTE = {"type": "LineString", "coordinates": [[11.90, 50.30], [11.90 + 2 * DEG_PER_KM, 50.30]]}
DESTINATION = (11.90 + 2 * DEG_PER_KM, 50.30)


def notifying(
    settings: Settings, mailbox: MailBox, receiver: HttpReceiver, **changes: object
) -> Settings:
    return dataclasses.replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_security="none",
        mail_from="tracking@shop.test",
        sms_base_url=receiver.base_url,
        sms_account_sid="AC123",
        sms_auth_token="sms-secret",
        sms_from="+15550001111",
        notify_backoff_s=0.05,
        notify_poll_interval_s=0.05,
        fleet_interval_ms=20.0,
        webhook_allow_private="127.0.0.1/32",  # the receiver; webhooks reach public hosts only
        **changes,  # type: ignore[arg-type]
    )


async def settled(db: asyncpg.Connection) -> None:
    """Wait until nothing in the outbox is due for sending (a minute's lookahead)."""
    query = """SELECT count(*) FROM outbox WHERE status = 'pending'
               AND next_attempt_at <= now() + interval '1 minute'"""
    async with asyncio.timeout(30):
        while await db.fetchval(query):  # noqa: ASYNC110 (database state has no event)
            await asyncio.sleep(0.02)


async def test_each_stage_reaches_the_customer_once_by_email_and_sms(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox, receiver: HttpReceiver
) -> None:
    async with (
        run_server(notifying(settings, mailbox, receiver)) as server,
        Dispatch(server) as dispatch,
    ):
        driver_id, _ = await server.create_driver()
        order = await dispatch.order(
            reference="A-77", customer={"name": "Cleo", "email": EMAIL, "phone": PHONE}
        )
        await dispatch.out_for_delivery(order["id"], driver_id)
        await dispatch.status(order["id"], "delivered")
        await mailbox.wait_for(lambda: len(mailbox.messages) == 4, "four emails")
        await receiver.wait_for(lambda: len(receiver.at("/Messages.json")) == 4, "four SMS")
        await settled(db)
        log = (await dispatch.client.get(f"/api/orders/{order['id']}/notifications")).json()
    subjects = [m["Subject"] for m in mailbox.messages]
    assert subjects == [
        "Order A-77 confirmed",
        "Order A-77 has shipped",
        "Order A-77 is out for delivery",
        "Order A-77 delivered",
    ]
    first = mailbox.messages[0]
    assert first["To"] == EMAIL and first["From"] == "tracking@shop.test"
    text = first.get_body(("plain",))
    html = first.get_body(("html",))
    assert text is not None and html is not None
    assert (
        order["tracking_url"] in text.get_content() and order["tracking_url"] in html.get_content()
    )
    sms = receiver.at("/2010-04-01/Accounts/AC123/Messages.json")
    assert [r.form["To"] for r in sms] == [PHONE] * 4 and all(
        r.form["From"] == "+15550001111" for r in sms
    )
    assert (
        "out for delivery" in sms[2].form["Body"] and order["tracking_url"] in sms[2].form["Body"]
    )
    assert sms[0].headers["authorization"].startswith("Basic ")
    assert len({m["Message-ID"] for m in mailbox.messages}) == 4
    assert sorted((e["event"], e["channel"], e["status"]) for e in log) == sorted(
        (event, channel, "sent")
        for event in ("confirmed", "shipped", "out_for_delivery", "delivered")
        for channel in ("email", "sms")
    )


async def test_signed_webhooks_for_every_status_change(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox, receiver: HttpReceiver
) -> None:
    async with (
        run_server(notifying(settings, mailbox, receiver)) as server,
        Dispatch(server) as dispatch,
    ):
        made = await dispatch.client.post(
            "/api/webhooks", json={"url": f"{receiver.base_url}/hook", "events": ["*"]}
        )
        secret = made.json()["secret"]
        order = await dispatch.order()
        await dispatch.status(order["id"], "processing", "packed", "cancelled")
        await receiver.wait_for(lambda: len(receiver.at("/hook")) == 4, "four webhooks")
        bad = await dispatch.client.post("/api/webhooks", json={"url": "ftp://x", "events": ["*"]})
        unknown = await dispatch.client.post(
            "/api/webhooks", json={"url": f"{receiver.base_url}/h", "events": ["order.lost"]}
        )
        no_key = await dispatch.client.post("/api/webhooks", json={}, headers={"Authorization": ""})
    hooks = receiver.at("/hook")
    received_at = time.time()
    for hook in hooks:  # as a receiver would check them
        webhook_id, signature = hook.headers[ID_HEADER], hook.headers[SIGNATURE_HEADER]
        timestamp = int(hook.headers[TIMESTAMP_HEADER])
        assert verify(secret, webhook_id, timestamp, hook.body, signature, received_at)
        assert not verify(
            "wrong-secret-wrong", webhook_id, timestamp, hook.body, signature, received_at
        )
        assert not verify(secret, webhook_id, timestamp, hook.body, signature, received_at + 3600)
    bodies = [json.loads(h.body) for h in hooks]
    assert [b["type"] for b in bodies] == [
        "order.confirmed",
        "order.processing",
        "order.packed",
        "order.cancelled",
    ]
    assert len({b["id"] for b in bodies}) == 4
    assert [h.headers[ID_HEADER] for h in hooks] == [b["id"] for b in bodies]
    assert (
        bodies[1]["data"]["order_id"] == order["id"] and bodies[1]["data"]["status"] == "processing"
    )
    assert (
        bad.status_code == 422
        and unknown.status_code == 422
        and "order.lost" in unknown.json()["error"]
    )
    assert no_key.status_code == 401


async def test_failures_are_retried_with_backoff(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox, receiver: HttpReceiver
) -> None:
    mailbox.fail_next = 2
    receiver.statuses = [500, 503]  # the SMS provider fails twice, then accepts
    async with (
        run_server(notifying(settings, mailbox, receiver)) as server,
        Dispatch(server) as dispatch,
    ):
        await dispatch.order(customer={"name": "Cleo", "email": EMAIL, "phone": PHONE})
        await mailbox.wait_for(lambda: len(mailbox.messages) == 1, "the email after retries")
        await receiver.wait_for(lambda: len(receiver.requests) == 3, "three SMS attempts")
        await settled(db)
    rows = await db.fetch(
        "SELECT channel, status, attempts, last_error FROM outbox ORDER BY channel"
    )
    assert [(r["channel"], r["status"], r["attempts"]) for r in rows] == [
        ("email", "sent", 3),
        ("sms", "sent", 3),
    ]
    assert mailbox.refused == 2


async def test_a_failing_webhook_is_disabled_and_says_why(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox, receiver: HttpReceiver
) -> None:
    receiver.always = 500
    settings = notifying(settings, mailbox, receiver, webhook_disable_after=3)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        body = {"url": f"{receiver.base_url}/hook", "events": ["order.confirmed"]}
        made = (await dispatch.client.post("/api/webhooks", json=body)).json()
        for _ in range(2):
            await dispatch.order()
        await receiver.wait_for(lambda: len(receiver.requests) >= 3, "three failed deliveries")
        await settled(db)
        view = (await dispatch.client.get(f"/api/webhooks/{made['id']}")).json()
        log = (await dispatch.client.get(f"/api/webhooks/{made['id']}/deliveries")).json()
        later = await dispatch.order()  # a disabled subscription gets nothing new
        re_enabled = (await dispatch.client.post(f"/api/webhooks/{made['id']}/enable")).json()
    assert view["active"] is False and "failed deliveries in a row" in view["disabled_reason"]
    assert "answered 500" in view["disabled_reason"]
    assert len(log) >= 3 and all(d["status_code"] == 500 and d["error"] for d in log)
    assert len(log) == len(receiver.requests)
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'") == 0
    webhook_rows = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE channel = 'webhook' AND order_id = $1", later["id"]
    )
    assert webhook_rows == 0
    assert re_enabled["active"] is True and re_enabled["consecutive_failures"] == 0


async def test_messages_committed_before_a_restart_are_sent_once_after_it(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox, receiver: HttpReceiver
) -> None:
    quiet = notifying(settings, mailbox, receiver, notify_enabled=False)  # commits, never sends
    async with run_server(quiet) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        order = await dispatch.order(customer={"name": "Cleo", "email": EMAIL})
        await dispatch.out_for_delivery(order["id"], driver_id)
    assert mailbox.messages == []
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'") == 3
    async with run_server(notifying(settings, mailbox, receiver)) as server:
        await mailbox.wait_for(lambda: len(mailbox.messages) == 3, "the three emails")
        await settled(db)
    async with run_server(
        notifying(settings, mailbox, receiver)
    ) as server:  # and again: nothing new
        await settled(db)
    assert sorted(m["Subject"].split()[-1] for m in mailbox.messages) == [
        "confirmed",
        "delivery",
        "shipped",
    ]


async def test_arriving_is_sent_once_however_often_the_threshold_is_crossed(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox, receiver: HttpReceiver
) -> None:
    async with (
        run_server(notifying(settings, mailbox, receiver)) as server,
        Dispatch(server) as dispatch,
    ):
        driver_id, token = await server.create_driver()
        order = await dispatch.order(
            lon=DESTINATION[0], lat=DESTINATION[1], customer={"name": "Cleo", "email": EMAIL}
        )
        await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
        t0 = now() - timedelta(minutes=20)
        # Back and forth across the 300 m "arriving" line, and the run rebuilt midway.
        metres = [1200, 1600, 1750, 1500, 1200, 1600, 1750, 1800, 1500, 1750, 1850]
        async with Courier(server.ws_url, token) as courier:
            for i, m in enumerate(metres):
                await courier.send(
                    fix(
                        i,
                        t0 + timedelta(seconds=30 * i),
                        11.90 + m / 1000 * DEG_PER_KM,
                        50.30,
                        speed=8.0,
                    )
                )
                if i == 5:
                    await courier.wait_acked(range(6))
                    await dispatch.assign(order["id"], driver_id, route=ROUTE)  # a new tracker
            await courier.wait_acked(range(len(metres)))
        await mailbox.wait_for(
            lambda: any("almost there" in m["Subject"] for m in mailbox.messages), "arriving"
        )
        await settled(db)
    arriving = [m for m in mailbox.messages if "almost there" in m["Subject"]]
    assert len(arriving) == 1


async def test_delayed_only_again_when_the_eta_leaves_the_announced_window(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox, receiver: HttpReceiver
) -> None:
    settings = notifying(settings, mailbox, receiver, delay_margin_s=0.0)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        t0 = now() - timedelta(minutes=60)
        order = await dispatch.order(
            lon=DESTINATION[0],
            lat=DESTINATION[1],
            customer={"name": "Cleo", "email": EMAIL},
            promised_by=(t0 + timedelta(seconds=60)).isoformat(),
        )
        await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
        async with Courier(server.ws_url, token) as courier:
            await courier.send(fix(0, t0, 11.90, 50.30, speed=8.0))
            await courier.wait_acked({0})
            await mailbox.wait_for(lambda: len(mailbox.to(EMAIL, "running late")) == 1, "delayed")
            for i in range(1, 4):  # small moves: the ETA stays in the announced window
                await courier.send(
                    fix(i, t0 + timedelta(seconds=10 * i), 11.90 + i * 0.0001, 50.30, speed=8.0)
                )
            await courier.wait_acked(range(4))
            # Twenty minutes at the same spot: the ETA leaves the window, one more notice.
            await courier.send(fix(4, t0 + timedelta(seconds=1230), 11.9003, 50.30, speed=0.0))
            await courier.wait_acked(range(5))
            await mailbox.wait_for(
                lambda: len(mailbox.to(EMAIL, "running late")) == 2, "second delayed"
            )
        await settled(db)
    assert len(mailbox.to(EMAIL, "running late")) == 2


async def test_quiet_hours_hold_non_urgent_messages(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox, receiver: HttpReceiver
) -> None:
    local = datetime.now(UTC)
    start, end = (
        (local - timedelta(hours=1)).strftime("%H:%M"),
        (local + timedelta(hours=2)).strftime("%H:%M"),
    )
    settings = notifying(settings, mailbox, receiver, quiet_hours=f"{start}-{end}")
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        order = await dispatch.order(customer={"name": "Cleo", "email": EMAIL, "time_zone": "UTC"})
        await dispatch.assign(order["id"], driver_id)
        await dispatch.status(order["id"], "shipped")  # held, as confirmed is
        await settled(db)
        held = await db.fetch(
            "SELECT event, next_attempt_at FROM outbox WHERE status = 'pending' ORDER BY event"
        )
        assert mailbox.messages == []
        # Out for delivery is urgent: it goes now, and takes the held stages with it, first
        # (a customer never hears "shipped" after "out for delivery").
        await dispatch.status(order["id"], "out_for_delivery")
        await mailbox.wait_for(lambda: len(mailbox.messages) == 3, "the urgent email, after both")
    assert [r["event"] for r in held] == ["confirmed", "shipped"]
    assert all(r["next_attempt_at"] > datetime.now(UTC) + timedelta(minutes=50) for r in held)
    assert mailbox.messages[2]["Subject"].endswith("is out for delivery")
    assert mailbox.messages[1]["Subject"].endswith("has shipped")


async def test_operators_can_override_templates(
    settings: Settings,
    db: asyncpg.Connection,
    mailbox: MailBox,
    receiver: HttpReceiver,
    tmp_path: Path,
) -> None:
    (tmp_path / "confirmed.txt").write_text(
        "Danke, {{ customer_name }}!\nBestellung {{ reference }}: {{ tracking_url }}\n"
    )
    settings = notifying(settings, mailbox, receiver, templates_dir=str(tmp_path))
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        order = await dispatch.order(reference="B-1", customer={"name": "Cleo", "email": EMAIL})
        await mailbox.wait_for(lambda: len(mailbox.messages) == 1)
    body = mailbox.messages[0].get_body(("plain",))
    assert mailbox.messages[0]["Subject"] == "Danke, Cleo!"
    assert body is not None and f"Bestellung B-1: {order['tracking_url']}" in body.get_content()
