"""Changes to long runs: an insertion is one change (each run it touches rebuilt once, one
message to the other processes), the live run keeps the database's order, and a run holds
at most `max_stops_per_run` stops."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
import redis.asyncio as redis

from geo.model import Fix
from geo.tracker import Tracker, TrackUpdate
from server.base import gc_freeze
from server.base.settings import Settings
from server.live.etas import BUILD_ON_LOOP_MAX_STOPS
from server.live.state import Live
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import RunningServer, run_server
from tests.server.processes import TEST_REDIS_URL, require_redis, server_processes
from tests.server.test_scale_out import bus_env
from tests.server.waiting import eventually

STOPS = 12
DEG_PER_KM = 0.01407  # east along lat 50.30


def east(m: float) -> float:
    return 11.90 + m / 1000 * DEG_PER_KM


async def run_of(dispatch: Dispatch, driver_id: int, stops: int) -> list[dict[str, Any]]:
    """`stops` orders out for delivery on the driver's run, 300 m apart eastwards."""
    orders = []
    for i in range(stops):
        order = await dispatch.order(lon=east(300 * (i + 1)), lat=50.30)
        await dispatch.out_for_delivery(order["id"], driver_id)
        orders.append(order)
    return orders


async def db_run(db: asyncpg.Connection, driver_id: int) -> list[int]:
    rows = await db.fetch(
        "SELECT id FROM orders WHERE driver_id = $1 AND stop_index IS NOT NULL ORDER BY stop_index",
        driver_id,
    )
    return [r["id"] for r in rows]


def count_calls(
    obj: object,
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    key: Callable[..., int | None] = lambda driver_id, *_: driver_id,
) -> Counter[int | None]:
    """Count the calls of a method of the live server's state by `key` of their arguments
    (by default the first, the driver), still calling it."""
    original: Callable[..., Any] = getattr(obj, name)
    calls: Counter[int | None] = Counter()

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[key(*args)] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, name, counted)
    return calls


async def tracked(server: RunningServer, courier: Courier, driver_id: int) -> None:
    """A fix on the courier's socket: the driver is online and tracked by this server (its
    tracker, the only source of ETAs in a lone server, gave every stop ahead an ETA)."""
    await courier.send(fix(1, now() - timedelta(seconds=5), east(-1000), 50.30))
    await courier.wait_acked({1})
    live = server.services.live

    def every_stop_has_an_eta() -> bool:
        stops = live.runs.stops(driver_id)
        return bool(stops) and len(live.etas.driver_etas(driver_id)) == len(stops)

    await eventually(every_stop_has_an_eta, what="tracker")


async def test_inserting_a_stop_rebuilds_each_run_it_touches_once(
    settings: Settings, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        live: Live = server.services.live
        ana, ana_token = await server.create_driver("Ana")
        bo, _ = await server.create_driver("Bo")
        await run_of(dispatch, ana, STOPS)
        bo_orders = await run_of(dispatch, bo, 3)
        async with Courier(server.ws_url, ana_token) as courier:
            await tracked(server, courier, ana)
            run_changes = count_calls(live, "run_changed", monkeypatch)
            # A tracker is built over a run's stops: counted by the run's first stop's driver.
            rebuilds = count_calls(
                live.etas,
                "_build",
                monkeypatch,
                lambda stops, *_: live.runs.driver_of(stops[0].order_id),
            )

            new = await dispatch.order(lon=east(100), lat=50.30)
            await dispatch.assign(new["id"], ana, stop_index=0)
            assert run_changes == {ana: 1}
            assert rebuilds == {ana: 1}  # the tracker of the whole run, once

            run_changes.clear()
            rebuilds.clear()
            # Moving Bo's first stop into the middle of Ana's run: each run once.
            await dispatch.assign(bo_orders[0]["id"], ana, stop_index=STOPS // 2)
            assert run_changes == {ana: 1, bo: 1}
            assert rebuilds == {ana: 1}  # Bo has no position: no tracker to build

            run_changes.clear()
            await dispatch.status(new["id"], "cancelled")
            assert run_changes == {ana: 1}


async def test_after_insertions_the_live_run_and_its_etas_follow_the_database(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, courier_next_stop_only=True)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        live: Live = server.services.live
        ana, token = await server.create_driver("Ana")
        await run_of(dispatch, ana, STOPS)
        async with Courier(server.ws_url, token) as courier:
            await tracked(server, courier, ana)
            for stop_index, metres in ((0, 150), (5, 1650), (STOPS + 1, 300 * STOPS + 200)):
                new = await dispatch.order(lon=east(metres), lat=50.30)
                await dispatch.out_for_delivery(new["id"], ana, stop_index=stop_index)
                expected = await db_run(db, ana)
                assert expected.index(new["id"]) == stop_index
                assert [s.order_id for s in live.runs.stops(ana)] == expected
                assert list(live.runs.visible_orders(ana)) == expected[:1]  # next stop only
                response = await dispatch.client.get("/api/fleet")
                entry = next(d for d in response.json()["drivers"] if d["id"] == ana)
                assert [o["id"] for o in entry["orders"]] == expected
                etas = [o["eta"] for o in entry["orders"]]
                assert None not in etas and etas == sorted(etas)  # the tracker's run order
                assert len(set(etas)) == len(etas)


async def test_a_long_run_is_rebuilt_off_the_loop_and_its_etas_follow_the_database(
    settings: Settings, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    stops = BUILD_ON_LOOP_MAX_STOPS + 8
    frozen_on: list[str] = []  # what a build on the thread hides from the collector, by step
    monkeypatch.setattr(
        gc_freeze, "freeze_built", lambda: frozen_on.append(threading.current_thread().name)
    )
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        live: Live = server.services.live
        ana, token = await server.create_driver("Ana")
        await run_of(dispatch, ana, stops)
        async with Courier(server.ws_url, token) as courier:
            await tracked(server, courier, ana)
            rebuilds = count_calls(live.etas, "_build", monkeypatch, lambda *_: 0)
            frozen_on.clear()  # the first fix's build froze too
            updated_on: list[str] = []  # the threads trackers took fixes in on
            update = Tracker.update

            def recording_update(tracker: Tracker, fix: Fix) -> TrackUpdate:
                updated_on.append(threading.current_thread().name)
                return update(tracker, fix)

            monkeypatch.setattr(Tracker, "update", recording_update)
            new = await dispatch.order(lon=east(150), lat=50.30)
            await dispatch.assign(new["id"], ana, stop_index=0)
            expected = await db_run(db, ana)
            assert expected[0] == new["id"] and len(expected) == stops + 1
            assert [s.order_id for s in live.runs.stops(ana)] == expected

            def etas_in_run_order() -> bool:
                etas = [live.etas.eta(o) for o in expected]
                times = [e.eta_at for e in etas if e is not None]
                return len(times) == len(expected) and times == sorted(times)

            await eventually(etas_in_run_order, what="ETAs of the rebuilt run")
            assert rebuilds[0] == 1
            assert not live.etas.building(ana)
            # Even the courier's newest fix went through the new tracker on the thread: a
            # fix over a long run costs the loop milliseconds.
            assert updated_on == ["tracker-build_0"], updated_on
            # 41 stops: one step of legs, then the join, then the tracker.
            assert frozen_on == ["tracker-build_0"] * 3, frozen_on


async def test_a_run_holds_at_most_max_stops_per_run(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, max_stops_per_run=3)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        ana, _ = await server.create_driver("Ana")
        orders = [await dispatch.order() for _ in range(4)]
        for order in orders[:3]:
            await dispatch.assign(order["id"], ana)
        response = await dispatch.client.post(
            f"/api/orders/{orders[3]['id']}/assign", json={"driver_id": ana, "stop_index": 0}
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert "3 stops" in error and "TRACKER_MAX_STOPS_PER_RUN=3" in error
        assert await db_run(db, ana) == [o["id"] for o in orders[:3]]  # nothing moved
        assert [s.order_id for s in server.services.live.runs.stops(ana)] == await db_run(db, ana)
        # Moving a stop within a full run is no new stop.
        await dispatch.assign(orders[2]["id"], ana, stop_index=0)
        assert (await db_run(db, ana))[0] == orders[2]["id"]
        # Once one is delivered there is room again.
        await dispatch.status(orders[0]["id"], "shipped", "out_for_delivery", "delivered")
        await dispatch.assign(orders[3]["id"], ana, stop_index=0)


async def test_an_insertion_is_one_message_to_the_other_processes(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await require_redis()
    env = bus_env()
    prefix = env["TRACKER_BUS_PREFIX"]
    listener = redis.Redis.from_url(TEST_REDIS_URL)
    pubsub = listener.pubsub()
    await pubsub.subscribe(f"{prefix}cluster")
    try:
        async with server_processes(settings, ["A", "B"], env) as (a, b):
            ana, _ = await a.create_driver("Ana")
            async with a.http() as client:
                ids = []
                for i in range(STOPS):
                    ids.append(await _order_on_run(client, ana, east(300 * (i + 1))))
                new = await _order_on_run(client, ana, east(100), stop_index=0)
                marker = ids[-1]  # a later change, sent after the insertion's
                response = await client.post(
                    f"/api/orders/{marker}/status", json={"status": "delivered"}
                )
                assert response.status_code == 200, response.text
            messages = await _order_messages_until(pubsub, marker, "delivered")
            at = next(
                i
                for i, m in enumerate(messages)
                if m["order"]["id"] == new and m["order"]["stop_index"] == 0
            )
            # Not one message more per stop the insertion moved down: they ride along in it.
            moved = [m for m in messages[at + 1 :] if m["order"]["id"] not in (new, marker)]
            assert moved == []
            assert sorted(dict(messages[at]["shifted"])) == sorted(ids)

            expected = await db_run(db, ana)
            assert expected[0] == new and marker not in expected

            async def b_run() -> list[int]:
                async with b.http() as client:
                    drivers = (await client.get("/api/fleet")).json()["drivers"]
                entry = next(d for d in drivers if d["id"] == ana)
                return [o["id"] for o in entry["orders"]]

            async with asyncio.timeout(10):
                # B's picture has no event to wait on: poll it against the deadline.
                while await b_run() != expected:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await listener.aclose()


async def _order_on_run(client: Any, driver_id: int, lon: float, **assign: Any) -> int:
    response = await client.post(
        "/api/orders", json={"customer": {"name": "Cleo"}, "destination": {"lat": 50.3, "lon": lon}}
    )
    assert response.status_code == 201, response.text
    order_id = int(response.json()["id"])
    response = await client.post(
        f"/api/orders/{order_id}/assign", json={"driver_id": driver_id, **assign}
    )
    assert response.status_code == 200, response.text
    for status in ("shipped", "out_for_delivery"):
        response = await client.post(f"/api/orders/{order_id}/status", json={"status": status})
        assert response.status_code == 200, response.text
    return order_id


async def _order_messages_until(
    pubsub: Any, order_id: int, status: str, timeout_s: float = 10.0
) -> list[dict[str, Any]]:
    """The `order` messages on the cluster channel, up to the one saying `order_id` has
    `status` (the frames are origin, key, message, separated by NUL bytes)."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout_s):
        while True:
            raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if raw is None:
                continue
            message = msgspec.json.decode(raw["data"].split(b"\x00", 2)[2])
            if message.get("type") != "order":
                continue
            seen.append(message)
            if message["order"]["id"] == order_id and message["order"]["status"] == status:
                return seen
