"""Before dispatch (issue 17): an order on a run shows its customer the expected time,
marked as an estimate and without anything of the courier; the shipped message carries
it; and "running late" waits until the order is out for delivery."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import asyncpg
from babel import dates

from server.base.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.receivers import HttpReceiver, MailBox
from tests.server.test_notifications import (
    DEG_PER_KM,
    DESTINATION,
    EMAIL,
    ROUTE,
    notifying,
    settled,
)
from tests.server.watcher import Watcher


def parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


async def test_an_assigned_order_shows_its_estimate_and_nothing_of_the_courier(
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
        code = order["tracking_code"]
        async with server.http() as client, Courier(server.ws_url, token) as courier:
            unassigned = (await client.get(f"/api/track/{code}")).json()
            await dispatch.assign(order["id"], driver_id, route=ROUTE)
            await courier.send(fix(0, now(), 11.90 + 0.5 * DEG_PER_KM, 50.30, speed=8.0))
            await courier.wait_acked({0})
            dispatcher = (await dispatch.client.get(f"/api/orders/{order['id']}")).json()
            confirmed = (await client.get(f"/api/track/{code}")).json()
            async with Watcher(f"{server.ws_url}/ws/track/{code}") as customer:
                await customer.wait_until(lambda: bool(customer.of_type("snapshot")))
            snapshot = customer.of_type("snapshot")[0]
            shipped_on = {datetime.now(UTC).date()}
            await dispatch.status(order["id"], "shipped")
            await mailbox.wait_for(lambda: bool(mailbox.to(EMAIL, "has shipped")), "shipped")
            shipped_on.add(datetime.now(UTC).date())
            await dispatch.status(order["id"], "out_for_delivery")
            out = (await client.get(f"/api/track/{code}")).json()
        await settled(db)
    assert unassigned["eta"] is None
    live_eta = dispatcher["eta"]
    assert live_eta is not None and "estimate" not in live_eta
    for view in (confirmed, snapshot):
        assert view["status"] == "confirmed"
        assert view["courier"] is None and view["route"] is None
        eta = view["eta"]
        assert eta["estimate"] is True
        assert eta["remaining_m"] is None and eta["reason"] is None
        assert eta["eta"] == live_eta["eta"] and eta["window"] == live_eta["window"]
    # The shipped message gives it in the customer's time (UTC here, and said so),
    # written as English (the default locale) writes times: "5:23 PM", with the day
    # ("Wed, Dec 2, 12:03 AM") when it falls after the day the message was sent.
    at = parse(live_eta["eta"]).astimezone(UTC)
    time = dates.format_time(at, "short", locale="en").replace("\u202f", " ")
    day = dates.format_skeleton("MMMEd", at, locale="en")
    expected = {time if at.date() == sent else f"{day}, {time}" for sent in shipped_on}
    body = mailbox.to(EMAIL, "has shipped")[0].get_body(("plain",))
    assert body is not None
    assert any(f"Expected around {text} UTC" in body.get_content() for text in expected)
    assert "an estimate" in body.get_content()
    # Out for delivery, the live ETA: no longer an estimate, with the distance left.
    assert "estimate" not in out["eta"] and out["eta"]["remaining_m"] > 0
    assert out["courier"] is not None


async def test_running_late_is_not_told_before_out_for_delivery(
    settings: Settings, db: asyncpg.Connection, mailbox: MailBox, receiver: HttpReceiver
) -> None:
    settings = notifying(settings, mailbox, receiver, delay_margin_s=0.0)
    settings = dataclasses.replace(settings, fleet_interval_ms=20.0)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        t0 = now() - timedelta(seconds=40)
        order = await dispatch.order(
            lon=DESTINATION[0],
            lat=DESTINATION[1],
            customer={"name": "Cleo", "email": EMAIL},
            promised_by=t0.isoformat(),  # 2 km away, due already: late on every ETA
        )
        hook = await dispatch.client.post(
            "/api/webhooks",
            json={
                "url": f"{receiver.base_url}/hook",
                "events": ["driver.position"],
                "position_interval_s": 1,
            },
        )
        assert hook.status_code == 201, hook.text
        await dispatch.assign(order["id"], driver_id, route=ROUTE)
        await dispatch.status(order["id"], "shipped")
        async with Courier(server.ws_url, token) as courier:
            for i in range(3):
                at = t0 + timedelta(seconds=10 * i)
                await courier.send(fix(i, at, 11.90 + i * 0.0001, 50.30, speed=8.0))
            await courier.wait_acked(range(3))
            # Positions go through the notifier's queue behind the fixes' delay checks:
            # once the last is delivered, a delay found while shipped would be recorded.
            await receiver.wait_for(lambda: len(receiver.at("/hook")) == 3, "positions")
            while_shipped = await db.fetchval(
                "SELECT count(*) FROM outbox WHERE order_id = $1 AND event = 'delayed'",
                order["id"],
            )
            await dispatch.status(order["id"], "out_for_delivery")
            await mailbox.wait_for(lambda: bool(mailbox.to(EMAIL, "running late")), "delayed")
        await settled(db)
    assert while_shipped == 0
    assert len(mailbox.to(EMAIL, "running late")) == 1


async def test_a_stop_not_yet_next_gets_an_estimate_and_no_courier(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, courier_next_stop_only=True)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        first = await dispatch.order(lon=11.90 + DEG_PER_KM, lat=50.30)
        second = await dispatch.order(lon=DESTINATION[0], lat=DESTINATION[1])
        await dispatch.out_for_delivery(first["id"], driver_id)
        await dispatch.out_for_delivery(second["id"], driver_id)
        async with Courier(server.ws_url, token) as courier, server.http() as client:
            await courier.send(fix(0, now(), 11.90, 50.30, speed=8.0))
            await courier.wait_acked({0})
            views = [
                (await client.get(f"/api/track/{o['tracking_code']}")).json()
                for o in (first, second)
            ]
    next_stop, later = views
    assert next_stop["courier"] is not None and "estimate" not in next_stop["eta"]
    assert later["status"] == "out_for_delivery"
    assert later["courier"] is None and later["route"] is None
    assert later["eta"]["estimate"] is True and later["eta"]["remaining_m"] is None
    assert parse(later["eta"]["eta"]) > parse(next_stop["eta"]["eta"])
