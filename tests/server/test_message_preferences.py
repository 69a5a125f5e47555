"""Customers' messages in their language, and by their leave (issue 17), end to end: a real
SMTP server gets a pt-PT order's emails in Portuguese, once per stage, with RFC 2369/8058
List-Unsubscribe headers; the one-click link and the preferences route turn a channel off,
and the outbox then skips it (logged) while the other channel and webhooks go on; bad
input changes nothing; Message-IDs differ between installations."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import httpx

from server.base.settings import Settings
from server.domain.codes import normalise
from server.store import migrate
from server.usecases.notify.events import message_id_for
from server.usecases.notify.links import signature
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.receivers import HttpReceiver, MailBox
from tests.server.test_notifications import EMAIL, PHONE, notifying, settled

SMS_PATH = "/2010-04-01/Accounts/AC123/Messages.json"
BIG = b"List-Unsubscribe=One-Click&" + b"a" * 5000
ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


async def secret_of(db: asyncpg.Connection) -> bytes:
    return bytes(await db.fetchval("SELECT secret FROM installation"))


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def test_a_pt_order_hears_in_portuguese_once_per_stage_and_can_unsubscribe(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox, receiver: HttpReceiver
) -> None:
    async with (
        run_server(notifying(settings, mailbox, receiver)) as server,
        Dispatch(server) as dispatch,
    ):
        await dispatch.client.post(
            "/api/webhooks", json={"url": f"{receiver.base_url}/hook", "events": ["*"]}
        )
        driver_id, _ = await server.create_driver()
        order = await dispatch.order(
            reference="A-77",
            locale="pt-PT",
            customer={"name": "Cleo", "email": EMAIL, "phone": PHONE, "time_zone": "Europe/Lisbon"},
        )
        assert order["locale"] == "pt-PT"
        # The first SMS is out before the others are due: only it has the preferences link.
        await receiver.wait_for(lambda: len(receiver.at(SMS_PATH)) == 1, "the first SMS")
        await settled(db)
        await dispatch.out_for_delivery(order["id"], driver_id)
        await mailbox.wait_for(lambda: len(mailbox.messages) == 3, "three emails")
        await receiver.wait_for(lambda: len(receiver.at(SMS_PATH)) == 3, "three SMS")
        await settled(db)

        subjects = [m["Subject"] for m in mailbox.messages]
        assert subjects == [
            "Encomenda A-77 confirmada",
            "A encomenda A-77 foi expedida",
            "A encomenda A-77 saiu para entrega",
        ]
        out = mailbox.messages[2]
        text = out.get_body(("plain",))
        html = out.get_body(("html",))
        assert text is not None and html is not None
        code = order["tracking_code"]
        assert "saiu para entrega" in text.get_content()
        assert f"/track/{code}/preferences" in text.get_content()
        assert '<html lang="pt">' in html.get_content()
        assert out["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsubscribe = str(out["List-Unsubscribe"])
        assert unsubscribe.startswith("<") and unsubscribe.endswith(">")
        assert f"/api/track/{code}/unsubscribe?channel=email&sig=" in unsubscribe
        sms = [r.form["Body"] for r in receiver.at(SMS_PATH)]
        assert "saiu para entrega" in sms[2]
        # An order's first SMS has the link; later ones stay short (one segment, not two).
        assert [f"/track/{code}/preferences" in body for body in sms] == [True, False, False]
        # Message-IDs: one per message, derived from this installation's id.
        installation = UUID(str(await db.fetchval("SELECT id FROM installation")))
        key = f"order:{order['id']}:out_for_delivery:email"
        assert out["Message-ID"] == message_id_for(key, "shop.test", installation)
        assert len({m["Message-ID"] for m in mailbox.messages}) == 3

        # The mail client's one click: email off for this order; SMS stays on.
        clicked = await dispatch.client.post(
            path_of(unsubscribe[1:-1]), content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK
        )
        assert clicked.status_code == 200, clicked.text
        assert clicked.json() == {
            "email": False, "sms": True, "channels": ["email", "sms"], "locale": "pt-PT",
        }  # fmt: skip
        seen = (await dispatch.client.get(f"/api/orders/{order['id']}")).json()
        assert seen["preferences"] == {"email": False, "sms": True}  # support sees why
        # A mail provider posts many from one address: not held to the lookup budget (10).
        for _ in range(15):
            again = await dispatch.client.post(path_of(unsubscribe[1:-1]), headers=ONE_CLICK)
            assert again.status_code == 200, again.text

        await dispatch.status(order["id"], "delivered")
        await receiver.wait_for(lambda: len(receiver.at(SMS_PATH)) == 4, "the fourth SMS")
        await receiver.wait_for(
            lambda: any(b'"order.delivered"' in h.body for h in receiver.at("/hook")),
            "the order.delivered webhook",
        )
        await settled(db)
        log = (await dispatch.client.get(f"/api/orders/{order['id']}/notifications")).json()
    assert len(mailbox.messages) == 3  # no "delivered" email
    assert "entregue" in receiver.at(SMS_PATH)[3].form["Body"]
    hooks = [json.loads(h.body)["type"] for h in receiver.at("/hook")]
    assert hooks.count("order.delivered") == 1  # webhooks are not the customer's channel
    skipped = [e for e in log if e["status"] == "skipped"]
    assert [(e["event"], e["channel"]) for e in skipped] == [("delivered", "email")]
    assert "turned email off" in skipped[0]["last_error"]
    sent = sorted(
        (e["event"], e["channel"])
        for e in log
        if e["status"] == "sent" and e["channel"] != "webhook"
    )
    assert sent == sorted(
        [(ev, "email") for ev in ("confirmed", "shipped", "out_for_delivery")]
        + [(ev, "sms") for ev in ("confirmed", "shipped", "out_for_delivery", "delivered")]
    )


async def test_quiet_hours_hold_a_stage_until_a_later_urgent_one_then_send_it_first(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox, receiver: HttpReceiver
) -> None:
    # Quiet all day but one minute: confirmed and shipped wait; out for delivery does not.
    async with (
        run_server(notifying(settings, mailbox, receiver, quiet_hours=_quiet_now())) as server,
        Dispatch(server) as dispatch,
    ):
        driver_id, _ = await server.create_driver()
        order = await dispatch.order(reference="Q-1", customer={"name": "Cleo", "email": EMAIL})
        await dispatch.assign(order["id"], driver_id)
        await dispatch.status(order["id"], "shipped")
        await settled(db)  # nothing due: both held for the morning
        assert mailbox.messages == []
        await dispatch.status(order["id"], "out_for_delivery")
        await mailbox.wait_for(lambda: len(mailbox.messages) == 3, "three emails")
    assert [m["Subject"] for m in mailbox.messages] == [
        "Order Q-1 confirmed",
        "Order Q-1 has shipped",
        "Order Q-1 is out for delivery",
    ]


def _quiet_now() -> str:
    """Quiet hours that hold now (UTC, the default zone) and end in ~23 h."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=30), now - timedelta(minutes=31)
    return f"{start:%H:%M}-{end:%H:%M}"


async def test_preferences_refuse_bad_input_and_change_nothing(
    settings: Settings, db: asyncpg.Connection
) -> None:
    many = dataclasses.replace(settings, track_lookup_burst=100)  # every call is a lookup
    async with run_server(many) as server, Dispatch(server) as dispatch:
        order = await dispatch.order(customer={"name": "Cleo", "email": EMAIL, "phone": PHONE})
        other = await dispatch.order(customer={"name": "Dan", "email": "dan@example.com"})
        code = order["tracking_code"]
        url = f"/api/track/{code}/preferences"
        c: httpx.AsyncClient = dispatch.client
        both_on = {"email": True, "sms": True, "channels": ["email", "sms"], "locale": None}
        assert (await c.get(url)).json() == both_on

        refusals = [
            (await c.post("/api/track/0000-0000-0000-0000/preferences", json={"sms": False}), 404),
            (await c.post("/api/track/not-a-code/preferences", json={"sms": False}), 404),
            (await c.post(url, json={"fax": False}), 422),
            (await c.post(url, json={"webhook": False}), 422),
            (await c.post(url, json={"email": "no"}), 422),
            (await c.post(url, json={"email": 0}), 422),
            (await c.post(url, json={}), 422),
            (await c.post(url, json=[False]), 422),
            (await c.post(url, content=b'{"email": fals'), 422),
            (await c.post(url, content=b'{"email": false, "x": "' + b"a" * 4096 + b'"}'), 413),
        ]
        for response, status in refusals:
            assert response.status_code == status, response.text
            assert "error" in response.json()
        assert (await c.get(url)).json() == both_on

        secret = await secret_of(db)
        raw = normalise(code)
        assert raw is not None
        email_sig = signature(secret, raw, "email")
        other_sig = signature(secret, str(normalise(other["tracking_code"])), "email")
        unknown_sig = signature(secret, "0000000000000000", "email")  # signed, but no order
        unsubscribe = f"/api/track/{code}/unsubscribe"
        nowhere = "/api/track/0000-0000-0000-0000/unsubscribe"
        refused = [
            (await c.post(f"{unsubscribe}?channel=email"), 422),
            (await c.post(f"{unsubscribe}?channel=webhook&sig={email_sig}"), 422),
            (await c.post(f"{unsubscribe}?channel=email&sig={email_sig}&x=1"), 422),
            (await c.post(f"{unsubscribe}?channel=sms&sig={email_sig}"), 403),  # email's
            (await c.post(f"{unsubscribe}?channel=email&sig={other_sig}"), 403),  # other order's
            (await c.post(f"{unsubscribe}?channel=email&sig={'A' * 22}"), 403),
            (await c.post(f"{nowhere}?channel=email&sig={email_sig}"), 403),  # not its code's
            (await c.post(f"{nowhere}?channel=email&sig={unknown_sig}"), 404),  # no such order
            (await c.post(f"{unsubscribe}?channel=email&sig={email_sig}", content=BIG), 413),
        ]  # fmt: skip
        for response, status in refused:
            assert response.status_code == status, response.text
            assert "error" in response.json()
        opened = await c.get(f"{unsubscribe}?channel=email&sig={email_sig}")
        assert opened.status_code == 303
        assert opened.headers["location"] == f"/track/{code}/preferences"
        assert (await c.get(url)).json() == both_on  # a GET (a link scanner) changed nothing

        changed = await c.post(url, json={"sms": False})
        assert changed.status_code == 200
        assert changed.json() == {**both_on, "sms": False}
        assert (await c.get(url)).json() == {**both_on, "sms": False}
        # Only this order: the other one still hears by email.
        other_url = f"/api/track/{other['tracking_code']}/preferences"
        assert (await c.get(other_url)).json()["email"] is True
        # A signed link whose order's tracking link expired does nothing: 404, still on.
        await db.execute(
            "UPDATE orders SET status = 'cancelled', closed_at = now() - interval '400 days'"
            " WHERE id = $1",
            other["id"],
        )
        other_unsubscribe = f"/api/track/{other['tracking_code']}/unsubscribe"
        expired = await c.post(f"{other_unsubscribe}?channel=email&sig={other_sig}")
        assert expired.status_code == 404, expired.text
        opt_out = "SELECT email_opt_out FROM orders WHERE id = $1"
        assert await db.fetchval(opt_out, other["id"]) is False
        page = await c.get(f"/track/{code}/preferences")
        assert page.status_code == 200 and "preferences.js" in page.text
        assert page.headers["x-robots-tag"] == "noindex"


async def test_an_order_locale_is_checked_and_kept_in_canonical_case(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        body = {"customer": {"name": "Cleo", "time_zone": "Europe/Lisbon"},
                "destination": {"lat": 41.15, "lon": -8.61}}  # fmt: skip
        for bad in ("en_US", "pt--PT", "x" * 36, "12", "pt PT"):
            response = await dispatch.client.post("/api/orders", json={**body, "locale": bad})
            assert response.status_code == 422, (bad, response.text)
            assert "locale" in response.json()["error"]
        assert await db.fetchval("SELECT count(*) FROM orders") == 0
        made = await dispatch.client.post("/api/orders", json={**body, "locale": "PT-br"})
        assert made.status_code == 201
        assert made.json()["locale"] == "pt-BR"
        assert made.json()["customer"]["time_zone"] == "Europe/Lisbon"
        public = (await dispatch.client.get(f"/api/track/{made.json()['tracking_code']}")).json()
        assert public["locale"] == "pt-BR" and public["time_zone"] == "Europe/Lisbon"


async def test_installations_have_their_own_ids_kept_across_restarts(
    database_url: str, db: asyncpg.Connection
) -> None:
    first = await db.fetchrow("SELECT id, secret FROM installation")
    await migrate.upgrade_async(database_url)  # a restart migrates again: nothing changes
    assert await db.fetchrow("SELECT id, secret FROM installation") == first
    name = "tracker_msg_other_installation"
    other_url = database_url.rsplit("/", 1)[0] + "/" + name
    admin = await asyncpg.connect(database_url.rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name}")
        await migrate.prepare(other_url)
        await migrate.upgrade_async(other_url)
        other = await asyncpg.connect(other_url)
        try:
            second = await other.fetchrow("SELECT id, secret FROM installation")
        finally:
            await other.close()
    finally:
        await asyncio.wait_for(admin.execute(f"DROP DATABASE IF EXISTS {name}"), 30)
        await admin.close()
    assert first is not None and second is not None
    assert first["id"] != second["id"] and first["secret"] != second["secret"]
    key = "order:1:confirmed:email"
    assert message_id_for(key, "shop.test", first["id"]) != message_id_for(
        key, "shop.test", second["id"]
    )
