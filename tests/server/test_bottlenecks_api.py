"""`GET /api/insights/bottlenecks` and `/heatmap` on a real server: two days of a courier
stored by the COPY writer (a usual day, then one with a slow stretch and a long stop),
deliveries made late, on time and failed through the real order API; every figure checked
against the same computed in the test from the trips and the stored outcomes."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from server.base.settings import Settings
from server.edges.rest.openapi import document
from server.store import insight_rollup as rollup_store
from server.usecases import insight_rollup
from tests.server import bottleneck_trips as trips
from tests.server.dispatch import ADMIN, Dispatch
from tests.server.harness import RunningServer, run_server
from tests.server.openapi_check import ResponseChecker
from tests.server.test_insight_rollup import store

ZONE = "Asia/Kolkata"  # +05:30: hours of the week are not UTC's
MAX_FEATURES = 2


async def _rolled_up(server: RunningServer, until: datetime) -> None:
    """Run the rollup to `until`; the server's own job may hold a slice meanwhile (then ours
    stops early): run it again until the watermark is there."""
    pool = server.services.pool
    async with asyncio.timeout(60):
        while True:
            await insight_rollup.roll_up(pool, server.services.settings, until)
            async with pool.acquire() as conn:
                at = await rollup_store.watermark(conn)
            if at is not None and at >= until:
                return


def _how(at: datetime) -> tuple[int, int]:
    local = at.astimezone(ZoneInfo(ZONE))
    return local.weekday(), local.hour


def _slow_cells(
    usual_day: trips.Expected, day: trips.Expected, settings: Settings
) -> dict[tuple[int, int], dict[str, float]]:
    """Cells of `day` slower than ratio x usual (both days' travel), by the documented rule."""
    driven: dict[tuple[int, int], list[float]] = {}
    both: dict[tuple[int, int], list[float]] = {}
    for part, sums in ((day, driven), (usual_day, both), (day, both)):
        for (_, ix, iy), (s, m, n) in part.travel.items():
            entry = sums.setdefault((ix, iy), [0.0, 0.0, 0.0])
            entry[0] += s
            entry[1] += m
            entry[2] += n
    slow = {}
    for key, (s, m, n) in driven.items():
        usual = both[key][1] / both[key][0]
        if n >= settings.bottleneck_min_steps and m / s < settings.bottleneck_slow_ratio * usual:
            slow[key] = {"driven_mps": m / s, "usual_mps": usual, "lost_s": s - m / usual}
    return slow


async def test_layers_and_heat_maps_from_stored_history(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(
        settings, operator_time_zone=ZONE, bottleneck_max_features=MAX_FEATURES
    )
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    usual_start = today - timedelta(days=3) + timedelta(hours=9, minutes=12)
    slow_start = today - timedelta(days=1) + timedelta(hours=9, minutes=12)
    usual_points = trips.day(usual_start, slow_mps=10.0, stop_s=60)
    slow_points = trips.day(slow_start, slow_mps=1.5, stop_s=900)
    driver_id = await store(db, usual_points)  # one courier each day
    await store(db, slow_points)
    usual = trips.expected(usual_points, settings.bottleneck_dwell_min_s)
    slow = trips.expected(slow_points, settings.bottleneck_dwell_min_s)
    want_slow = _slow_cells(usual, slow, settings)
    assert len(want_slow) > MAX_FEATURES  # the 600 m stretch spans more cells than shown

    day_range = {
        "from": (slow_start - timedelta(hours=1)).isoformat(),
        "to": (slow_start + timedelta(hours=3)).isoformat(),
    }
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        await _rolled_up(server, slow_points[-1].t + timedelta(seconds=400))
        late_at, on_time_at = (-8.6100, 41.1500), (-8.5900, 41.1600)
        past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        future = (datetime.now(UTC) + timedelta(hours=5)).isoformat()
        for lonlat, promise, outcome in (
            (late_at, past, "delivered"),
            (late_at, past, "delivered"),
            (late_at, future, "delivered"),
            (late_at, None, "delivered"),
            (on_time_at, future, "delivered"),
            (on_time_at, future, "failed"),
        ):
            fields: dict[str, Any] = {} if promise is None else {"promised_by": promise}
            order = await dispatch.order(*lonlat, **fields)
            await dispatch.out_for_delivery(order["id"], driver_id)
            await dispatch.status(order["id"], outcome)
        await _rolled_up(server, datetime.now(UTC))  # the deliveries' outcomes too
        client = dispatch.client
        check = ResponseChecker(document())
        for path, query in (
            ("/api/insights/bottlenecks", {**day_range, "layer": "slow"}),
            ("/api/insights/bottlenecks", {**day_range, "layer": "dwell"}),
            ("/api/insights/bottlenecks", {"layer": "late"}),
            ("/api/insights/heatmap", {**day_range, "metric": "slow"}),
        ):
            check(await client.get(path, params=query), path)  # features match the document
        slow_layer = (
            await client.get("/api/insights/bottlenecks", params={**day_range, "layer": "slow"})
        ).json()
        dwell_layer = (
            await client.get("/api/insights/bottlenecks", params={**day_range, "layer": "dwell"})
        ).json()
        late_layer = (
            await client.get("/api/insights/bottlenecks", params={"layer": "late"})
        ).json()
        heat = {
            m: (await client.get("/api/insights/heatmap", params={**day_range, "metric": m})).json()
            for m in ("slow", "dwell")
        }
        heat["late"] = (await client.get("/api/insights/heatmap")).json()  # default: late

    # slow: the worst MAX_FEATURES cells of the slow stretch, worst first, figures as computed
    assert slow_layer["type"] == "FeatureCollection" and slow_layer["layer"] == "slow"
    assert slow_layer["truncated"] is True and slow_layer["max_features"] == MAX_FEATURES
    assert slow_layer["time_zone"] == ZONE and slow_layer["cell_m"] == trips.CELL_M
    got = [(f["properties"]["ix"], f["properties"]["iy"]) for f in slow_layer["features"]]
    assert len(got) == MAX_FEATURES and set(got) <= set(want_slow)
    shown = [want_slow[k]["lost_s"] for k in got]
    left_out = [v["lost_s"] for k, v in want_slow.items() if k not in got]
    assert shown == sorted(shown, reverse=True) or shown[0] == pytest.approx(shown[1])
    assert min(shown) >= max(left_out) - 0.5  # the worst shown (ties in any order)
    for feature in slow_layer["features"]:
        props = feature["properties"]
        want = want_slow[(props["ix"], props["iy"])]
        assert props["epsg"] == trips.EPSG
        assert props["driven_mps"] == pytest.approx(want["driven_mps"], abs=0.01)
        assert props["usual_mps"] == pytest.approx(want["usual_mps"], abs=0.01)
        assert props["lost_s"] == pytest.approx(want["lost_s"], abs=0.5)
        assert props["usual_from"] == "history"  # no learned profile in use
        ring = feature["geometry"]["coordinates"][0]
        assert feature["geometry"]["type"] == "Polygon" and len(ring) == 5
        x, y = trips.TO_LONLAT.transform(
            (props["ix"] + 0.5) * trips.CELL_M, (props["iy"] + 0.5) * trips.CELL_M
        )
        lons, lats = [p[0] for p in ring], [p[1] for p in ring]
        assert min(lons) < x < max(lons) and min(lats) < y < max(lats)

    # dwell: the one long stop, where it was
    [(started, dwell_s, (ix, iy))] = slow.dwells
    [feature] = dwell_layer["features"]
    props = feature["properties"]
    assert (props["ix"], props["iy"], props["stops"], props["drivers"]) == (ix, iy, 1, 1)
    assert props["total_s"] == pytest.approx(dwell_s, abs=0.01)
    assert props["median_s"] == pytest.approx(dwell_s, abs=0.01)
    assert dwell_layer["truncated"] is False

    # late: two late deliveries at one place, a failed attempt at the other
    late_cells = {
        (f["properties"]["late"], f["properties"]["failed"], f["properties"]["delivered"])
        for f in late_layer["features"]
    }
    assert late_cells == {(2, 0, 4), (0, 1, 1)}
    assert late_layer["features"][0]["properties"]["late"] == 2  # worst first

    # heat maps: 7 x 24 in the operator's zone
    for metric, answer in heat.items():
        assert answer["metric"] == metric and answer["time_zone"] == ZONE
        assert len(answer["values"]) == 7 and {len(r) for r in answer["values"]} == {24}
    day, hour = _how(started)
    assert heat["dwell"]["values"][day][hour] == pytest.approx(dwell_s, abs=0.1)
    assert heat["dwell"]["counts"][day][hour] == 1
    assert sum(map(sum, heat["dwell"]["counts"])) == 1
    rows = await db.fetch(
        """SELECT e.at, e.status, coalesce(o.window_end, o.promised_by) AS due
           FROM order_events e JOIN orders o ON o.id = e.order_id
           WHERE e.status IN ('delivered', 'failed')"""
    )
    want_late = [[0] * 24 for _ in range(7)]
    want_count = [[0] * 24 for _ in range(7)]
    for row in rows:
        d, h = _how(row["at"])
        want_count[d][h] += 1
        bad = row["status"] == "failed" or (row["due"] is not None and row["at"] > row["due"])
        want_late[d][h] += int(bad)
    assert heat["late"]["counts"] == want_count
    assert heat["late"]["values"] == [[float(v) for v in r] for r in want_late]
    # time lost in the slow hours: every cell of the day against its usual speed
    lost = sum(map(sum, heat["slow"]["values"]))
    assert lost > sum(v["lost_s"] for v in want_slow.values()) * 0.9


BAD = [
    ({"from": "2026-11-30T10:00:00Z", "to": "2026-11-30T09:00:00Z"}, "from must not be after"),
    ({"from": "2026-01-01T00:00:00Z", "to": "2026-11-30T00:00:00Z"}, "spans over 92 days"),
    ({"from": "yesterday"}, "from must be an ISO 8601"),
    ({"to": "2026-11-30T10:00:00"}, "to must"),  # no zone
    ({"layer": "traffic"}, "layer must be one of slow, dwell, late"),
    ({"layer": "SLOW"}, "layer must be one of"),
    ({"metric": "speed"}, "metric must be one of"),
    ({"from": "2026-11-30T10:00:00+25:00"}, "from must"),
    ({"to": "0001-01-02T00:00:00Z"}, "to is too early"),  # the default from would overflow
    ({"lyer": "dwell"}, "unknown query parameters: lyer"),  # not silently the slow layer
    ({"metric": "late", "layer": "slow"}, "unknown query parameters: layer"),
]


@pytest.mark.parametrize(("query", "error"), BAD)
async def test_bad_queries_are_422_and_name_the_fault(
    settings: Settings, db: asyncpg.Connection, query: dict[str, str], error: str
) -> None:
    path = "/api/insights/heatmap" if "metric" in query else "/api/insights/bottlenecks"
    async with (
        run_server(settings) as server,
        httpx.AsyncClient(base_url=server.base_url, headers=ADMIN) as client,
    ):
        answer = await client.get(path, params=query)
        support = await client.post("/api/keys", json={"name": "agent", "role": "support"})
        agent = {"Authorization": f"Bearer {support.json()['key']}"}
        refused = await client.get(path, headers=agent)
        nobody = await client.get(path, headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 422, answer.text
    assert error in answer.json()["error"]
    assert refused.status_code == 403 and "dispatcher" in refused.json()["error"]
    assert nobody.status_code == 401
