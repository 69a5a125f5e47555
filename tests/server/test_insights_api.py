"""The insights API's tables, filters, time zone and bad input; the distance of a leg and
a second attempt, recorded through the real status changes (issue 18)."""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from geo.distance import haversine_m
from server.base.settings import Settings
from server.usecases.insights.gauges import measure_once
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.test_insights import LAT, geohash, lon_at


async def test_a_legs_distance_is_what_was_driven_after_dispatch(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon_at(1.0), LAT)
        await dispatch.out_for_delivery(order["id"], driver_id)
        sent_at = await db.fetchval("SELECT out_for_delivery_at FROM delivery_facts")
        before = fix(1, sent_at - timedelta(seconds=1), lon_at(-0.1), LAT)  # before: not on the leg
        # Four 200 m hops, a millisecond apart (short hops are never teleports): the leg's
        # fixes lie between dispatch and delivery without waiting for the clock.
        hops = [fix(2 + k, sent_at + timedelta(milliseconds=1 + k), lon_at(0.2 * k), LAT)
                for k in range(5)]  # fmt: skip
        async with Courier(server.ws_url, token) as courier:
            for f in [before, *hops]:
                await courier.send(f)
            await courier.wait_acked(range(1, 7))
        await dispatch.status(order["id"], "delivered")
    row = await db.fetchrow("SELECT * FROM delivery_facts")
    assert row is not None
    stored = await db.fetch(
        """SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM positions
           WHERE recorded_at BETWEEN $1 AND $2 ORDER BY recorded_at""",
        row["leg_started_at"],
        row["finished_at"],
    )
    driven = sum(
        haversine_m(p["lon"], p["lat"], q["lon"], q["lat"]) for p, q in itertools.pairwise(stored)
    )
    assert len(stored) == 5 and driven == pytest.approx(800.0, rel=0.01)
    assert row["leg_distance_m"] == pytest.approx(driven, rel=0.005)
    assert row["leg_started_at"] == sent_at


async def test_a_second_attempt_is_its_own_fact_and_not_a_first_attempt_success(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        order = await dispatch.order(lon_at(1.0), LAT)
        await dispatch.out_for_delivery(order["id"], driver_id)
        await dispatch.status(order["id"], "failed", "out_for_delivery", "delivered")
        summary = (await dispatch.client.get("/api/insights/summary")).json()["current"]
    rows = await db.fetch("SELECT attempt, outcome FROM delivery_facts ORDER BY attempt")
    assert [(r["attempt"], r["outcome"]) for r in rows] == [(1, "failed"), (2, "delivered")]
    assert summary["attempts"] == 2 and summary["deliveries"] == 1
    assert summary["first_attempt_success_rate"] == 0.0
    assert summary["failure_reasons"] == {"unspecified": 1}  # dispatch gave none


async def test_tables_filters_and_csv(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        ana, _ = await server.create_driver('=HYPERLINK("http://x")')
        bo, _ = await server.create_driver("Bo")
        near = await dispatch.order(lon_at(1.0), LAT)
        far = await dispatch.order(11.0, 48.0)
        for order, driver in ((near, ana), (far, bo)):
            await dispatch.out_for_delivery(order["id"], driver)
            await dispatch.status(order["id"], "delivered")
        get = dispatch.client.get
        drivers = (await get("/api/insights/drivers")).json()
        zones = (await get("/api/insights/zones")).json()
        only_bo = (await get("/api/insights/summary", params={"driver_id": bo})).json()
        zone = geohash(11.0, 48.0)
        in_zone = (await get("/api/insights/drivers", params={"zone": zone})).json()
        hours = (await get("/api/insights/series", params={"bucket": "hour"})).json()
        weeks = await get("/api/insights/series", params={"bucket": "week", "format": "csv"})
        table = await get("/api/insights/drivers", params={"format": "csv"})
    assert [(r["driver_id"], r["deliveries"]) for r in drivers["rows"]] == [(ana, 1), (bo, 1)]
    assert sorted(r["zone"] for r in zones["rows"]) == sorted([geohash(lon_at(1.0), LAT), zone])
    assert only_bo["current"]["deliveries"] == 1 and only_bo["driver_id"] == bo
    assert [r["driver_id"] for r in in_zone["rows"]] == [bo]
    hour = datetime.now(UTC).strftime("%Y-%m-%dT%H:00")
    assert [(r["bucket"], r["deliveries"]) for r in hours["rows"]][-1] == (hour, 2)
    assert hours["bucket"] == "hour" and hours["time_zone"] == "UTC"
    assert weeks.headers["content-type"].startswith("text/csv")
    week_rows = list(csv.DictReader(io.StringIO(weeks.text)))
    assert [(r["time_zone"], r["deliveries"]) for r in week_rows] == [("UTC", "2")]
    named = {r["driver_id"]: r["name"] for r in csv.DictReader(io.StringIO(table.text))}
    assert named[str(ana)] == '\'=HYPERLINK("http://x")'  # never a formula in a spreadsheet


async def test_days_follow_the_operator_time_zone(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, operator_time_zone="Asia/Kolkata")
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        answer = await dispatch.client.get(
            "/api/insights/summary", params={"from": "2026-11-30", "to": "2026-11-30"}
        )
    body = answer.json()
    assert body["time_zone"] == "Asia/Kolkata"
    # Local midnight is 18:30 UTC the day before: counted from the UTC hour it falls in.
    assert body["current"]["from_at"] == "2026-11-29T18:00:00+00:00"
    assert body["previous"]["from"] == body["previous"]["to"] == "2026-11-29"


BAD = [
    ("summary", {"from": "2026-11-30", "to": "2026-11-01"}, 422, "from must not be after to"),
    ("summary", {"from": "2025-01-01", "to": "2026-11-30"}, 422, "MAX_RANGE_DAYS"),
    ("summary", {"from": "2026-13-01"}, 422, "YYYY-MM-DD"),
    ("summary", {"from": "2026-1-1"}, 422, "YYYY-MM-DD"),
    ("summary", {"to": "yesterday"}, 422, "YYYY-MM-DD"),
    ("summary", {"from": "0001-01-01", "to": "0001-01-02"}, 422, "years 1971 to 9998"),
    ("series", {"from": "9999-12-30", "to": "9999-12-31"}, 422, "years 1971 to 9998"),
    ("summary", {"driver_id": "abc"}, 422, "driver_id"),
    ("summary", {"driver_id": "9" * 30}, 422, "driver_id"),
    ("summary", {"driver_id": "424242"}, 404, "no driver with id 424242"),
    ("summary", {"zone": "ZZZZZ"}, 422, "geohash"),
    ("summary", {"zone": "u2bqp' OR 1=1 --"}, 422, "geohash"),
    ("summary", {"zone": "u2bqp"}, 404, "no delivery was recorded in zone"),
    ("summary", {"format": "csv"}, 422, "unknown query parameters"),
    ("summary", {"drvier_id": "1"}, 422, "unknown query parameters"),
    ("series", {"bucket": "minute"}, 422, "bucket must be hour, day or week"),
    ("series", {"bucket": "hour", "from": "2026-09-01", "to": "2026-11-30"}, 422, "31 days"),
    ("drivers", {"format": "xlsx"}, 422, "format must be json or csv"),
    ("zones", {"from": "\x00"}, 422, "YYYY-MM-DD"),
]


@pytest.mark.parametrize(("table", "params", "status", "says"), BAD)
async def test_bad_input_is_refused_and_named(
    settings: Settings,
    db: asyncpg.Connection,
    table: str,
    params: dict[str, str],
    status: int,
    says: str,
) -> None:
    settings = dataclasses.replace(settings, insights_max_range_days=400)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        answer = await dispatch.client.get(f"/api/insights/{table}", params=params)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]


async def test_the_gauges_say_todays_on_time_rate(
    settings: Settings, db: asyncpg.Connection
) -> None:
    later = (now() + timedelta(hours=2)).isoformat()
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        for promised in (later, (now() - timedelta(hours=2)).isoformat()):
            order = await dispatch.order(promised_by=promised)
            await dispatch.out_for_delivery(order["id"], driver_id)
            await dispatch.status(order["id"], "delivered")
        services = server.services
        await measure_once(services.pool, services.settings, services.metrics)
        text = (await dispatch.client.get("/metrics")).text
    assert "tracker_insights_on_time_rate 0.5" in text
    assert 'tracker_insights_eta_mae_seconds{horizon="dispatch"} NaN' in text
