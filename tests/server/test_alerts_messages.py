"""Stored alerts (raised by a real courier's fixes, kept across a restart, acknowledged
once and live for every dispatcher) and messages from dispatch to couriers."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import ADMIN, Dispatch
from tests.server.harness import RunningServer, run_server
from tests.server.waiting import POLL_S
from tests.server.watcher import WAIT_S, Watcher

# A straight street east along lat 50.30: 1 km per 0.01407 degrees of longitude.
DEG_PER_KM = 0.01407
ROUTE = {"type": "LineString", "coordinates": [[11.90, 50.30], [11.90 + 2 * DEG_PER_KM, 50.30]]}
DESTINATION = (11.90 + 2 * DEG_PER_KM, 50.30)
NORTH_200_M = 0.0018  # degrees of latitude
UNDELIVERED = "SELECT count(*) FROM driver_messages WHERE delivered_at IS NULL"


async def dispatcher_key(server: RunningServer, name: str) -> str:
    async with server.http() as client:
        answer = await client.post(
            "/api/keys", json={"name": name, "role": "dispatcher"}, headers=ADMIN
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["key"])


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def stored(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "alert" and m["kind"] == kind]


async def test_alerts_from_a_real_run_are_stored_and_acknowledged_once(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, fleet_interval_ms=20.0)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        # Promised a minute from now: 2 km from the start cannot be driven in time (late).
        order = await dispatch.order(
            lon=DESTINATION[0],
            lat=DESTINATION[1],
            promised_by=(now() + timedelta(minutes=1)).isoformat(),
        )
        await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
        t0 = now() - timedelta(minutes=3)
        async with (
            Watcher(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}") as fleet,
            Courier(server.ws_url, token) as courier,
        ):
            seq = 0
            for metres in range(0, 301, 100):  # on the street, slowly
                await courier.send(
                    fix(seq, t0 + timedelta(seconds=seq * 15), 11.90 + metres / 1000 * DEG_PER_KM,
                        50.30, speed=1.0)
                )  # fmt: skip
                seq += 1
            for _ in range(5):  # 200 m north of it, a fix every 15 s: off route
                await courier.send(
                    fix(seq, t0 + timedelta(seconds=seq * 15), 11.90 + 0.3 * DEG_PER_KM,
                        50.30 + NORTH_200_M, speed=1.0)
                )  # fmt: skip
                seq += 1
            await courier.wait_acked(range(seq))
            await fleet.wait_until(
                lambda: bool(stored(fleet.messages, "off_route") and stored(fleet.messages, "late"))
            )
    [off_route] = stored(fleet.messages, "off_route")
    [late] = stored(fleet.messages, "late")
    assert off_route["driver_id"] == driver_id and off_route["order_id"] is None
    assert late["order_id"] == order["id"] and late["driver_id"] == driver_id
    assert isinstance(off_route["id"], int) and isinstance(late["id"], int)

    # A new server on the same database: the alerts are still there, open.
    async with run_server(settings) as server:
        key_a, key_b = await dispatcher_key(server, "ops-a"), await dispatcher_key(server, "ops-b")
        async with (
            httpx.AsyncClient(base_url=server.base_url, headers=bearer(key_a)) as a,
            httpx.AsyncClient(base_url=server.base_url, headers=bearer(key_b)) as b,
            Watcher(f"{server.ws_url}/ws/fleet?token={key_b}") as watching_b,
        ):
            listed = (await a.get("/api/alerts", params={"open": "true"})).json()
            assert {x["id"]: x["kind"] for x in listed["alerts"]} == {
                off_route["id"]: "off_route",
                late["id"]: "late",
            }
            assert listed["next_after"] is None
            first = await a.post(f"/api/alerts/{late['id']}/ack")
            again = await b.post(f"/api/alerts/{late['id']}/ack")
            # Another alert acknowledged after: its message comes after any second one would.
            await a.post(f"/api/alerts/{off_route['id']}/ack")
            await watching_b.wait_until(
                lambda: any(m.get("id") == off_route["id"] for m in watching_b.of_type("alert_ack"))
            )
            still_open = (await b.get("/api/alerts?open=true")).json()["alerts"]
            everything = (await b.get("/api/alerts", params={"limit": 1})).json()
            unknown = await a.post("/api/alerts/999999/ack")
            not_a_number = await a.post("/api/alerts/x1/ack")
            async with httpx.AsyncClient(base_url=server.base_url) as anyone:
                courier_token = await anyone.get("/api/alerts", headers=bearer(token))
    assert first.status_code == 200 and again.status_code == 200
    assert first.json()["acked_by"] == "key:ops-a"
    assert again.json() == first.json()  # the first acknowledgement stays
    acks = [m for m in watching_b.of_type("alert_ack") if m["id"] == late["id"]]
    assert acks == [
        {"type": "alert_ack", "id": late["id"], "acked_by": "key:ops-a",
         "acked_at": first.json()["acked_at"]}
    ]  # fmt: skip
    assert still_open == []
    assert [x["id"] for x in everything["alerts"]] == [min(off_route["id"], late["id"])]
    assert everything["next_after"] == min(off_route["id"], late["id"])
    assert unknown.status_code == 404 and not_a_number.status_code == 404
    assert courier_token.status_code == 401  # fleet data: dispatcher and admin keys only
    rows = await db.fetch("SELECT kind, acked_by FROM alerts ORDER BY id")
    assert sorted((r["kind"], r["acked_by"]) for r in rows) == [
        ("late", "key:ops-a"),
        ("off_route", "key:ops-a"),
    ]


async def test_a_failed_delivery_raises_one_alert(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        order = await dispatch.order()
        await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
        async with Watcher(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}") as fleet:
            await dispatch.status(order["id"], "failed")
            await fleet.wait_until(lambda: bool(stored(fleet.messages, "failed")))
            listed = (await dispatch.client.get("/api/alerts?open=true")).json()["alerts"]
    [alert] = listed
    assert (alert["kind"], alert["order_id"], alert["driver_id"]) == (
        "failed",
        order["id"],
        driver_id,
    )
    assert alert["acked_at"] is None and alert["acked_by"] is None


async def test_the_same_open_alert_is_stored_once(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server:
        driver_id, _ = await server.create_driver()
        alerts = server.services.alerts
        first = await alerts.raise_alert("far_from_address", driver_id, None, now(), "412 m")
        repeat = await alerts.raise_alert("far_from_address", driver_id, None, now(), "420 m")
        assert first is not None and repeat is None
        async with server.http() as client:
            await client.post(f"/api/alerts/{first.id}/ack", headers=ADMIN)
        after_ack = await alerts.raise_alert("far_from_address", driver_id, None, now())
    assert after_ack is not None and after_ack.id != first.id
    assert await db.fetchval("SELECT count(*) FROM alerts") == 2


async def test_messages_reach_the_courier_now_or_when_it_connects(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        key = await dispatcher_key(server, "ops")
        async with Courier(server.ws_url, token) as connected:
            # The first fix's ack: the socket (and its subscription) is in place.
            await connected.send(fix(1, now(), 11.90, 50.30))
            await connected.wait_acked({1})
            async with httpx.AsyncClient(base_url=server.base_url, headers=bearer(key)) as ops:
                sent = await ops.post(
                    f"/api/drivers/{driver_id}/messages", json={"text": "Gate code 4711"}
                )
            await connected.wait_until(lambda: bool(connected.messages))
        later = await dispatch.client.post(
            f"/api/drivers/{driver_id}/messages", json={"text": "Call the office"}
        )
        async with Courier(server.ws_url, token) as reconnected:
            await reconnected.wait_until(lambda: len(reconnected.messages) == 2)
        # Recorded after the write, off the socket's path: polled against a deadline.
        async with asyncio.timeout(WAIT_S):
            while await db.fetchval(UNDELIVERED):  # noqa: ASYNC110
                await asyncio.sleep(POLL_S)
    assert sent.status_code == 201 and later.status_code == 201
    body = sent.json()
    assert (body["driver_id"], body["text"], body["sent_by"]) == (driver_id, "Gate code 4711",
                                                                  "key:ops")  # fmt: skip
    assert connected.messages == [
        {"type": "message", "id": body["id"], "text": "Gate code 4711", "from": "key:ops",
         "at": body["at"]}
    ]  # fmt: skip
    # On connect: the recent ones, oldest first (the page keeps them by id).
    assert [m["text"] for m in reconnected.messages] == ["Gate code 4711", "Call the office"]
    assert reconnected.messages[1]["from"] == "admin"


async def test_bad_messages_store_nothing(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        path = f"/api/drivers/{driver_id}/messages"
        answers = [
            await dispatch.client.post(path, json={"text": "x" * 1001}),
            await dispatch.client.post(path, json={"text": "bell\u0007"}),
            await dispatch.client.post(path, json={"text": ""}),
            await dispatch.client.post(path, json={"text": "   "}),
            await dispatch.client.post(path, json={"words": "hi"}),
            await dispatch.client.post(path, content=b"{nope"),
        ]
        unknown = [
            await dispatch.client.post("/api/drivers/999999/messages", json={"text": "hi"}),
            await dispatch.client.post("/api/drivers/x/messages", json={"text": "hi"}),
        ]
        async with httpx.AsyncClient(base_url=server.base_url) as anyone:
            by_courier = await anyone.post(path, json={"text": "hi"}, headers=bearer(token))
    assert [a.status_code for a in answers] == [422] * len(answers), [a.text for a in answers]
    assert all(a.json()["error"] for a in answers)
    assert "control character" in answers[1].json()["error"]
    assert [a.status_code for a in unknown] == [404, 404]
    assert by_courier.status_code == 401
    assert await db.fetchval("SELECT count(*) FROM driver_messages") == 0


async def test_driver_detail_says_battery_app_and_last_fix_age(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        own_id, token = await server.create_driver("Ana", phone="+351 912 345 678")
        app_id, _ = await server.create_driver("Bo", device_id="bo-phone")
        silent_id, _ = await server.create_driver("Cy")
        async with Courier(server.ws_url, token) as courier:
            await courier.send(fix(1, now() - timedelta(seconds=30), 11.90, 50.30, battery=0.8))
            await courier.wait_acked({1})
        at_s = int(now().timestamp())
        async with server.http() as client:
            answer = await client.get(
                "/osmand", params={"id": "bo-phone", "lat": "50.3", "lon": "11.9",
                                   "timestamp": str(at_s), "batt": "55"}
            )  # fmt: skip
        assert answer.status_code == 200
        own = (await dispatch.client.get(f"/api/drivers/{own_id}")).json()
        by_app = (await dispatch.client.get(f"/api/drivers/{app_id}")).json()
        silent = (await dispatch.client.get(f"/api/drivers/{silent_id}")).json()
        fleet = (await dispatch.client.get("/api/fleet")).json()["drivers"]
    assert (own["phone"], own["battery"], own["app"]) == ("+351 912 345 678", 0.8, "own_page")
    assert 30 <= own["last_fix_age_s"] < 30 + 30
    assert (by_app["battery"], by_app["app"]) == (0.55, "traccar_client")
    assert by_app["last_fix_at"] is not None
    assert (silent["battery"], silent["app"], silent["last_fix_at"], silent["last_fix_age_s"]) == (
        None,
        None,
        None,
        None,
    )
    entries = {d["id"]: (d["app"], d["battery"]) for d in fleet}
    assert entries[own_id] == ("own_page", 0.8) and entries[app_id] == ("traccar_client", 0.55)


async def test_a_driver_with_a_run_gone_silent_raises_offline_once(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, fleet_interval_ms=20.0, alert_offline_after_s=0.5)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        _, idle_token = await server.create_driver("Idle")
        busy_id, busy_token = await server.create_driver("Busy")
        order = await dispatch.order()
        await dispatch.out_for_delivery(order["id"], busy_id, route=ROUTE)
        async with Watcher(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}") as fleet:
            # The idle driver (no run) goes silent first, the busy one after.
            for token in (idle_token, busy_token):
                async with Courier(server.ws_url, token) as courier:
                    await courier.send(fix(1, now(), 11.90, 50.30))
                    await courier.wait_acked({1})
            alert = await fleet.next_of("alert", lambda m: m["kind"] == "offline")
            # Stored in one INSERT per batch before any is published: all are in by now.
            rows = await db.fetch("SELECT kind, driver_id FROM alerts")
    assert alert["driver_id"] == busy_id and alert["order_id"] is None
    assert alert["detail"].startswith("no fix for")
    assert [(r["kind"], r["driver_id"]) for r in rows] == [("offline", busy_id)]
