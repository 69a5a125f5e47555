"""`POST /api/drivers/{id}/run/optimize` (issue 19): a proposed stop order from a travel-time
matrix on the Porto network, never slower than the current one, applied only by the
dispatcher's reorder; and what it answers to bad requests."""

from __future__ import annotations

import dataclasses
import random

import asyncpg

from server.base.settings import Settings
from server.store import roads
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import RunningServer, run_server

START = (-8.6110, 41.1496)


def stops(n: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)  # inside the extract, off its edges
    return [(rng.uniform(-8.618, -8.598), rng.uniform(41.130, 41.153)) for _ in range(n)]


async def run_of(
    server: RunningServer, dispatch: Dispatch, places: list[tuple[float, float]]
) -> tuple[int, list[int]]:
    driver_id, token = await server.create_driver()
    async with Courier(server.ws_url, token) as courier:
        await courier.send(fix(0, now(), *START))
        await courier.wait_acked({0})
    ids = []
    for lon, lat in places:
        order = await dispatch.order(lon=lon, lat=lat)
        await dispatch.assign(
            order["id"],
            driver_id,
            route={"type": "LineString", "coordinates": [list(START), [lon, lat]]},
        )
        ids.append(order["id"])
    return driver_id, ids


async def test_the_proposed_order_is_never_slower_and_changes_nothing(
    settings: Settings, db: asyncpg.Connection, porto_roads: roads.Network
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        for n, seed in ((6, 1), (14, 2)):
            driver_id, ids = await run_of(server, dispatch, stops(n, seed))
            url = f"/api/drivers/{driver_id}/run/optimize"
            response = await dispatch.client.post(url)
            assert response.status_code == 200, response.text
            proposal = response.json()
            assert proposal["current"] == ids and sorted(proposal["proposed"]) == sorted(ids)
            assert proposal["start"] == "courier"
            assert 0 < proposal["after"]["time_s"] <= proposal["before"]["time_s"]
            assert proposal["after"]["distance_m"] > 0
            # Random stops in a random order: there is time to save.
            assert (
                proposal["changed"] and proposal["after"]["time_s"] < proposal["before"]["time_s"]
            )
            stored = await db.fetch(
                "SELECT id FROM orders WHERE driver_id = $1 ORDER BY stop_index", driver_id
            )
            assert [r["id"] for r in stored] == ids  # proposed, not applied
            # Applied with the reorder action, it is proposed again as it stands.
            for index, order_id in enumerate(proposal["proposed"]):
                await dispatch.assign(order_id, driver_id, stop_index=index, route=None)
            again = (await dispatch.client.post(url, json={})).json()
            assert again["current"] == proposal["proposed"]
            assert not again["changed"] and again["proposed"] == again["current"]
            assert (
                again["before"]["time_s"] == again["after"]["time_s"] == proposal["after"]["time_s"]
            )


async def test_bad_requests_change_nothing(
    settings: Settings, db: asyncpg.Connection, porto_roads: roads.Network
) -> None:
    small = dataclasses.replace(settings, optimize_max_stops=3)
    async with run_server(small) as server, Dispatch(server) as dispatch:
        driver_id, _ = await run_of(server, dispatch, stops(4, 3))
        url = f"/api/drivers/{driver_id}/run/optimize"
        client = dispatch.client
        answers = {
            "too many stops": await client.post(url),
            "unknown driver": await client.post("/api/drivers/999999/run/optimize"),
            "not an id": await client.post("/api/drivers/abc/run/optimize"),
            "unknown option": await client.post(url, json={"apply": True}),
            "not json": await client.post(url, content=b"{nope"),
            "too big": await client.post(url, content=b"{" + b" " * 5000 + b"}"),
            "a list": await client.post(url, json=[1, 2]),
            "get": await client.get(url),
        }
        courier_id, courier_token = await server.create_driver("Courier")
        async with server.http() as anonymous:
            answers["no key"] = await anonymous.post(url)
            # A courier may not reorder anyone's run, its own included: its token is no key.
            answers["courier token"] = await anonymous.post(
                f"/api/drivers/{courier_id}/run/optimize",
                headers={"Authorization": f"Bearer {courier_token}"},
            )
            answers["wrong key"] = await anonymous.post(
                url, headers={"Authorization": "Bearer nope"}
            )
    expected = {
        "too many stops": 422, "unknown driver": 404, "not an id": 404, "unknown option": 422,
        "not json": 422, "too big": 413, "a list": 422, "get": 405, "no key": 401,
        "wrong key": 401, "courier token": 401,
    }  # fmt: skip
    assert {k: r.status_code for k, r in answers.items()} == expected
    for response in answers.values():
        assert "error" in response.json()
    assert "TRACKER_OPTIMIZE_MAX_STOPS" in answers["too many stops"].json()["error"]


async def test_without_a_network_the_run_cannot_be_ordered(
    settings: Settings, db: asyncpg.Connection, porto_roads: roads.Network
) -> None:
    no_bikes = dataclasses.replace(settings, routing_profile="bike")
    async with run_server(no_bikes) as server, Dispatch(server) as dispatch:
        driver_id, _ = await run_of(server, dispatch, stops(3, 4))
        response = await dispatch.client.post(f"/api/drivers/{driver_id}/run/optimize")
    assert response.status_code == 409
    assert "tracker osm import" in response.json()["error"]
