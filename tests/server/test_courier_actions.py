"""Courier actions and the courier's run, against a real server with a real websockets
client: a run completed over the socket and REST, a resend after a dropped connection
stored once, refusals (another driver's order, dispatch's statuses, bad input), an action
far from the address flagged and alerted, the run message on connect and on changes."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import asyncpg
import httpx

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server import images
from tests.server.courier import fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import RunningServer, run_server
from tests.server.watcher import Message, Watcher

LON, LAT = 11.92, 50.31  # the first stop's door
NEXT_LON = 11.94  # the second stop, 1.4 km east


def courier_socket(server: RunningServer, token: str) -> Watcher:
    """The courier's socket; connecting waits for its first message (the run)."""
    return Watcher(f"{server.ws_url}/ws/driver?token={token}")


def courier_http(server: RunningServer, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url, timeout=30.0, headers={"Authorization": f"Bearer {token}"}
    )


async def act(socket: Watcher, key: str, order_id: int, status: str, **extra: Any) -> Message:
    since = socket.mark()
    await socket.send(
        {"type": "action", "id": key, "order_id": order_id, "status": status, **extra}
    )
    return await socket.next_of("action_result", lambda m: m["id"] == key, since)


async def be_at(socket: Watcher, seq: int, lon: float, lat: float) -> None:
    """A fix at (lon, lat), waited for until stored (so live state has it)."""
    since = socket.mark()
    await socket.send(fix(seq, now(), lon, lat))
    await socket.next_of("ack", lambda m: seq in m["seqs"], since)


def run_ids(message: Message) -> list[int]:
    return [s["order_id"] for s in message["stops"]]


def with_mail(settings: Settings) -> Settings:
    """Email configured (to a closed port): customer messages are written to the outbox."""
    return dataclasses.replace(
        settings, smtp_host="127.0.0.1", smtp_port=9, smtp_security="none", fleet_interval_ms=20.0
    )


async def outbox_events(db: asyncpg.Connection, order_id: int) -> list[str]:
    rows = await db.fetch(
        "SELECT event FROM outbox WHERE order_id = $1 AND channel = 'email' ORDER BY id", order_id
    )
    return [r["event"] for r in rows]


async def test_a_courier_completes_a_run_over_the_socket_and_rest(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(with_mail(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana")
        first = await dispatch.order(
            LON, LAT, reference="A-1", customer={"name": "Cleo", "email": "cleo@example.com",
                                                 "phone": "+351912345678"},
        )  # fmt: skip
        second = await dispatch.order(NEXT_LON, LAT, reference="A-2")
        for order in (first, second):
            await dispatch.out_for_delivery(order["id"], driver_id)
        async with courier_socket(server, token) as socket, courier_http(server, token) as rest:
            run = socket.messages[0]
            assert run["type"] == "run" and run_ids(run) == [first["id"], second["id"]]
            stop = run["stops"][0]
            assert stop["reference"] == "A-1" and stop["status"] == "out_for_delivery"
            assert stop["customer_name"] == "Cleo"
            assert "cleo@example.com" not in json.dumps(run) and "+351" not in json.dumps(run)
            assert stop["destination"] == {"lat": LAT, "lon": LON, "address": None}
            await be_at(socket, 1, LON, LAT)

            since = socket.mark()
            arrived = await act(socket, "a1", first["id"], "arrived")
            assert arrived["ok"] is True and arrived["done"]["status"] == "arrived", arrived
            assert arrived["done"]["far"] is False and arrived["done"]["distance_m"] < 1
            changed = await socket.next_of("run", since=since)
            assert changed["stops"][0]["status"] == "arrived"
            # At the door the customer still sees the courier.
            view = (await dispatch.client.get(f"/api/track/{first['tracking_code']}")).json()
            assert view["status"] == "arrived" and view["courier"] is not None

            since = socket.mark()
            delivered = await act(socket, "d1", first["id"], "delivered")
            assert delivered["ok"] is True, delivered
            assert run_ids(await socket.next_of("run", since=since)) == [second["id"]]

            path = f"/api/orders/{second['id']}/status"
            response = await rest.post(path, json={"status": "arrived"}, headers=key("r1"))
            assert response.status_code == 200, response.text
            since = socket.mark()
            response = await rest.post(
                path, json={"status": "failed", "reason": "not_home"}, headers=key("r2")
            )
            assert response.status_code == 200, response.text
            assert response.json()["reason"] == "not_home"
            assert run_ids(await socket.next_of("run", since=since)) == []

        got = (await dispatch.client.get(f"/api/orders/{second['id']}")).json()
    steps = [(s["status"], s["actor"], s.get("reason")) for s in got["timeline"]][-2:]
    courier = f"driver:{driver_id}"
    assert steps == [("arrived", courier, None), ("failed", courier, "not_home")]
    # Customers hear of delivered and failed once each; arrived sends nothing.
    assert (await outbox_events(db, first["id"]))[-1:] == ["delivered"]
    assert (await outbox_events(db, second["id"]))[-1:] == ["failed"]
    assert "arrived" not in await outbox_events(db, first["id"])


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


async def test_a_resend_after_a_dropped_connection_is_stored_once(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(with_mail(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana")
        order = await dispatch.order(LON, LAT)
        await dispatch.out_for_delivery(order["id"], driver_id)
        socket = courier_socket(server, token)
        await socket.connect()
        first = await act(socket, "k-1", order["id"], "delivered", note="left with neighbour")
        assert socket._ws is not None
        socket._ws.transport.abort()  # the answer may have been lost: the phone resends
        await socket.wait_closed()
        async with courier_socket(server, token) as again:
            second = await act(again, "k-1", order["id"], "delivered", note="left with neighbour")
        async with courier_http(server, token) as rest:
            body = {"status": "delivered", "note": "left with neighbour"}
            path = f"/api/orders/{order['id']}/status"
            replayed = await rest.post(path, json=body, headers=key("k-1"))
            other = await rest.post(path, json={"status": "failed", "reason": "refused"},
                                    headers=key("k-1"))  # fmt: skip
    assert first["ok"] and second == first
    assert replayed.status_code == 200 and replayed.json() == first["done"]
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["error"]
    delivered = await db.fetchval(
        "SELECT count(*) FROM order_events WHERE order_id = $1 AND status = 'delivered'",
        order["id"],
    )
    assert delivered == 1
    assert (await outbox_events(db, order["id"])).count("delivered") == 1


async def test_refusals_change_nothing(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        ana, ana_token = await server.create_driver("Ana")
        _, ben_token = await server.create_driver("Ben")
        mine = await dispatch.order(LON, LAT)
        await dispatch.out_for_delivery(mine["id"], ana)
        loose = await dispatch.order(LON, LAT)
        await dispatch.status(loose["id"], "shipped", "out_for_delivery")  # on no run
        events = "SELECT count(*) FROM order_events"
        before = await db.fetchval(events)
        mine_path = f"/api/orders/{mine['id']}/status"
        async with courier_http(server, ben_token) as ben, courier_http(server, ana_token) as ana_:
            cases = [
                (ben, mine_path, {"status": "delivered"}, key("x1"), 403),  # Ana's order
                (ana_, f"/api/orders/{loose['id']}/status", {"status": "delivered"}, key("x2"),
                 403),  # on no run
                (ana_, "/api/orders/999999/status", {"status": "delivered"}, key("x3"), 403),
                (ana_, mine_path, {"status": "cancelled"}, key("x4"), 403),  # dispatch's
                (ana_, mine_path, {"status": "returned"}, key("x5"), 403),
                (ana_, mine_path, {"status": "delivered"}, {}, 400),  # no Idempotency-Key
                (ana_, mine_path, {"status": "failed", "reason": "lazy"}, key("x6"), 422),
                (ana_, mine_path, {"status": "failed"}, key("x7"), 422),  # no reason
                (ana_, mine_path, {"status": "failed", "reason": "other"}, key("x8"), 422),
                (ana_, mine_path, {"status": "delivered", "reason": "refused"}, key("x9"), 422),
                (ana_, mine_path, {"status": 7}, key("x10"), 422),
            ]  # fmt: skip
            for client, path, body, headers, status in cases:
                response = await client.post(path, json=body, headers=headers)
                assert response.status_code == status, (body, response.text)
                assert isinstance(response.json()["error"], str)
            # Another driver's order and no order at all read alike.
            answers = [
                (await ben.post(mine_path, json={"status": "arrived"}, headers=key("y1"))).json(),
                (
                    await ana_.post(
                        "/api/orders/999999/status", json={"status": "arrived"}, headers=key("y2")
                    )
                ).json(),
            ]
        async with courier_socket(server, ben_token) as socket:
            refused = await act(socket, "s1", mine["id"], "delivered")
            malformed = await act(socket, "s2", mine["id"], "delivered", reason=5)
    assert answers[0] == answers[1]
    assert refused["ok"] is False and refused["code"] == 403, refused
    assert malformed["ok"] is False and malformed["code"] == 422, malformed
    assert await db.fetchval(events) == before
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_an_action_far_from_the_address_is_flagged_and_alerted(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana")
        order = await dispatch.order(LON, LAT)
        await dispatch.out_for_delivery(order["id"], driver_id)
        fleet = Watcher(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}")
        async with fleet, courier_socket(server, token) as socket:
            await be_at(socket, 1, NEXT_LON, LAT)  # 1.4 km from the door
            since = fleet.mark()
            result = await act(socket, "f1", order["id"], "delivered")
            alert = await fleet.next_of("alert", lambda m: m["kind"] == "far_from_address", since)
        got = (await dispatch.client.get(f"/api/orders/{order['id']}")).json()
    done = result["done"]
    assert result["ok"] and done["far"] is True and 1_300 < done["distance_m"] < 1_500
    assert done["position"] == {"lat": LAT, "lon": NEXT_LON}
    assert alert["driver_id"] == driver_id and alert["order_id"] == order["id"]
    step = got["timeline"][-1]
    assert step["status"] == "delivered" and step["far"] is True
    assert step["position"] == {"lat": LAT, "lon": NEXT_LON}
    stored = await db.fetchrow("SELECT id, order_id FROM alerts WHERE kind = 'far_from_address'")
    assert stored is not None and (stored["id"], stored["order_id"]) == (alert["id"], order["id"])


async def test_an_order_with_a_delivery_pin_is_delivered_only_with_its_proof(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana")
        order = await dispatch.order(LON, LAT, delivery_pin=True)
        plain = await dispatch.order(NEXT_LON, LAT)
        for each in (order, plain):
            await dispatch.out_for_delivery(each["id"], driver_id)
        async with courier_socket(server, token) as socket:  # the run says where to ask
            pins = {s["order_id"]: s["pin_required"] for s in socket.messages[0]["stops"]}
        assert pins == {order["id"]: True, plain["id"]: False}
        async with courier_http(server, token) as courier:
            url = f"/api/orders/{order['id']}/status"
            early = await courier.post(url, json={"status": "delivered"}, headers=key("d1"))
            pin = await db.fetchval(
                "SELECT pin FROM delivery_pins WHERE order_id = $1", order["id"]
            )
            proof = await courier.post(
                f"/api/orders/{order['id']}/proof",
                files={"photo": ("door.jpg", images.phone_photo(), "image/jpeg")},
                data={"pin": pin},
                headers=key("p1"),
            )
            later = await courier.post(url, json={"status": "delivered"}, headers=key("d2"))
    assert early.status_code == 409 and "PIN" in early.json()["error"], early.text
    assert proof.status_code == 201, proof.text
    assert later.status_code == 200 and later.json()["status"] == "delivered", later.text
    statuses = await db.fetch(
        "SELECT status FROM order_events WHERE order_id = $1 ORDER BY id", order["id"]
    )
    assert [r["status"] for r in statuses].count("delivered") == 1


async def test_the_run_message_on_connect_and_after_assign_reorder_cancel(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana")
        _, other_token = await server.create_driver("Ben")
        first = await dispatch.order(LON, LAT, promised_by=now().isoformat())
        await dispatch.assign(first["id"], driver_id)
        async with (
            courier_socket(server, token) as socket,
            courier_socket(server, other_token) as other,
        ):
            assert run_ids(socket.messages[0]) == [first["id"]]
            assert socket.messages[0]["stops"][0]["promised_by"] is not None
            assert run_ids(other.messages[0]) == []
            second = await dispatch.order(NEXT_LON, LAT)
            since = socket.mark()
            await dispatch.assign(second["id"], driver_id)  # added at the end
            assert run_ids(await socket.next_of("run", since=since)) == [first["id"], second["id"]]
            since = socket.mark()
            await dispatch.assign(second["id"], driver_id, stop_index=0)  # moved first
            assert run_ids(await socket.next_of("run", since=since)) == [second["id"], first["id"]]
            since = socket.mark()
            await dispatch.status(first["id"], "cancelled")
            assert run_ids(await socket.next_of("run", since=since)) == [second["id"]]
        assert other.of_type("run") == other.messages[:1]  # nothing of Ana's run


async def test_the_first_etas_reach_the_run_without_waiting_for_a_move(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """A first ETA is no "move" (geo/eta.py publishes moves only): the run the courier got
    before any ETA must still be sent again once there are some, not at the next move."""
    async with run_server(with_mail(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana")
        order = await dispatch.order(LON, LAT, reference="A-1")
        await dispatch.out_for_delivery(order["id"], driver_id)
        async with courier_socket(server, token) as socket:
            [stop] = socket.messages[0]["stops"]
            assert stop["eta"] is None  # no fix yet
            since = socket.mark()
            await be_at(socket, 1, LON - 0.015, LAT)  # 1 km west, standing there
            run = await socket.next_of("run", lambda m: m["stops"][0]["eta"], since)
            assert run["stops"][0]["eta"]["remaining_m"] > 900
