"""`POST /api/track/{code}/issues`, and bad bodies on every self-service route: a reported
problem is stored, alerts dispatchers, goes to webhook subscribers and to the support
address; what is refused changes nothing."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import asyncpg
import pytest

from server.base.settings import Settings
from server.usecases.self_service import MAX_ISSUES_PER_ORDER
from tests.conftest import ADMIN_TOKEN
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.receivers import HttpReceiver, MailBox  # fixtures: tests/server/conftest.py
from tests.server.test_self_service import post, roomy
from tests.server.watcher import Watcher

SUPPORT = "help@shop.test"
HOSTILE = "It never came <script>alert(1)</script> & the box was empty"


def with_support(settings: Settings, mailbox: MailBox) -> Settings:
    return dataclasses.replace(
        roomy(settings),
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_security="none",
        mail_from="tracking@shop.test",
        support_email=SUPPORT,
        notify_backoff_s=0.05,
        notify_poll_interval_s=0.05,
        webhook_allow_private="127.0.0.1/32",
    )


async def test_a_reported_problem_is_stored_alerted_webhooked_and_emailed(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox, receiver: HttpReceiver
) -> None:
    async with (
        run_server(with_support(settings, mailbox)) as server,
        Dispatch(server) as dispatch,
    ):
        hook = {"url": f"{receiver.base_url}/hook", "events": ["order.issue_reported"]}
        assert (await dispatch.client.post("/api/webhooks", json=hook)).status_code == 201
        driver_id, _ = await server.create_driver()
        order = await dispatch.order(reference="A-77")
        await dispatch.out_for_delivery(order["id"], driver_id)
        await dispatch.status(order["id"], "delivered")
        async with Watcher(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}") as fleet:
            since = fleet.mark()
            reported = await post(
                server,
                order["tracking_code"],
                "issues",
                {"reason": "not_received", "text": HOSTILE},
            )
            alert = await fleet.next_of("alert", lambda m: m["kind"] == "issue_reported", since)
        await receiver.wait_for(lambda: len(receiver.at("/hook")) == 1, "the webhook")
        await mailbox.wait_for(lambda: len(mailbox.to(SUPPORT)) == 1, "the support email")
        seen = (await dispatch.client.get(f"/api/orders/{order['id']}")).json()
        log = (await dispatch.client.get(f"/api/orders/{order['id']}/notifications")).json()
    assert reported.status_code == 201, reported.text
    issue = reported.json()
    assert issue["reason"] == "not_received" and issue["text"] == HOSTILE
    stored = await db.fetchrow("SELECT id, order_id, reason, text FROM order_issues")
    assert stored is not None
    assert tuple(stored) == (issue["id"], order["id"], "not_received", HOSTILE)
    assert alert["order_id"] == order["id"] and alert["driver_id"] == driver_id
    assert alert["detail"] == f"not_received: {HOSTILE}"
    [body] = [json.loads(h.body) for h in receiver.at("/hook")]
    assert body["type"] == "order.issue_reported"
    assert body["data"]["reference"] == "A-77" and body["data"]["status"] == "delivered"
    assert body["data"]["issue"] == {**body["data"]["issue"], "id": issue["id"], "text": HOSTILE}
    [mail] = mailbox.to(SUPPORT)
    assert "A-77" in mail["Subject"] and "not_received" in mail["Subject"]
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None
    assert HOSTILE in plain.get_content()
    assert "<script>" not in html.get_content() and "&lt;script&gt;" in html.get_content()
    assert mailbox.to("cleo@example.com", "not_received") == []  # support's, not the customer's
    assert [(i["reason"], i["text"]) for i in seen["issues"]] == [("not_received", HOSTILE)]
    assert ("issue_reported", "email", SUPPORT) in [
        (m["event"], m["channel"], m["target"]) for m in log
    ]


async def test_without_a_support_address_nothing_is_emailed_but_the_rest_happens(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox
) -> None:
    settings = dataclasses.replace(with_support(settings, mailbox), support_email="")
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        order = await dispatch.order()
        reported = await post(server, order["tracking_code"], "issues", {"reason": "late"})
    assert reported.status_code == 201 and reported.json()["text"] is None
    assert await db.fetchval("SELECT count(*) FROM alerts WHERE kind = 'issue_reported'") == 1
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE event = 'issue_reported'") == 0


async def test_reports_per_order_are_capped(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(roomy(settings)) as server, Dispatch(server) as dispatch:
        code = (await dispatch.order())["tracking_code"]
        answers = [
            await post(server, code, "issues", {"reason": "damaged", "text": f"#{i}"})
            for i in range(MAX_ISSUES_PER_ORDER + 1)
        ]
    assert [a.status_code for a in answers] == [201] * MAX_ISSUES_PER_ORDER + [429]
    assert await db.fetchval("SELECT count(*) FROM order_issues") == MAX_ISSUES_PER_ORDER


LONG = "x" * 1_001
BAD: list[tuple[str, str, Any, int, str]] = [
    ("instructions", "too long", {"text": LONG}, 422, "length"),
    ("instructions", "NUL", {"text": "a\u0000b"}, 422, "control character"),
    ("instructions", "bell", {"text": "a\u0007b"}, 422, "control character"),
    ("instructions", "unknown field", {"text": "a", "order_id": 1}, 422, "order_id"),
    ("instructions", "missing", {}, 422, "text"),
    ("instructions", "not an object", ["text"], 422, "object"),
    ("instructions", "number", {"text": 5}, 422, "str"),
    ("issues", "unknown reason", {"reason": "lost"}, 422, "reason"),
    ("issues", "other without text", {"reason": "other", "text": "  "}, 422, "text is required"),
    ("issues", "too long", {"reason": "late", "text": LONG}, 422, "length"),
    ("issues", "control in text", {"reason": "late", "text": "\u001b[31m"}, 422, "control"),
    ("rating", "zero", {"score": 0}, 422, ">= 1"),
    ("rating", "six", {"score": 6}, 422, "<= 5"),
    ("rating", "text score", {"score": "5"}, 422, "int"),
    ("rating", "float score", {"score": 4.5}, 422, "int"),
    ("rating", "long comment", {"score": 5, "comment": LONG}, 422, "length"),
    ("reattempt", "long note", {"note": LONG}, 422, "length"),
    ("reattempt", "NUL note", {"note": "\u0000"}, 422, "control character"),
]


@pytest.mark.parametrize(
    ("what", "case", "body", "status", "says"), BAD, ids=[f"{b[0]}-{b[1]}" for b in BAD]
)
async def test_bad_bodies_are_refused_and_change_nothing(
    settings: Settings, db: asyncpg.Connection, what: str, case: str, body: Any, status: int,
    says: str,
) -> None:  # fmt: skip
    async with run_server(roomy(settings)) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        order = await dispatch.order()
        await dispatch.out_for_delivery(order["id"], driver_id)
        await dispatch.status(order["id"], "failed" if what == "reattempt" else "delivered")
        if what == "instructions":
            await db.execute("UPDATE orders SET status = 'packed'")  # where they are allowed
        before = await db.fetchrow("SELECT status, delivery_instructions, updated_at FROM orders")
        answer = await post(server, order["tracking_code"], what, body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]
    assert await db.fetchrow("SELECT status, delivery_instructions, updated_at FROM orders") == (
        before
    )
    for table in ("order_issues", "order_ratings"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    ours = "SELECT count(*) FROM alerts WHERE kind IN ('issue_reported', 'reattempt_requested')"
    assert await db.fetchval(ours) == 0


@pytest.mark.parametrize("what", ["instructions", "issues", "rating", "reattempt"])
async def test_malformed_deep_and_oversized_bodies(
    settings: Settings, db: asyncpg.Connection, what: str
) -> None:
    async with run_server(roomy(settings)) as server, Dispatch(server) as dispatch:
        code = (await dispatch.order())["tracking_code"]
        async with server.http() as client:
            url = f"/api/track/{code}/{what}"
            broken = await client.post(url, content=b'{"text": "a"')
            deep = await client.post(url, content=b"[" * 5_000 + b"]" * 5_000)
            huge = await client.post(url, content=b'{"text": "' + b"a" * 20_000 + b'"}')
    assert broken.status_code == deep.status_code == 422
    assert "nested deeper" in deep.json()["error"]
    assert huge.status_code == 413
    assert await db.fetchval("SELECT delivery_instructions FROM orders") is None
