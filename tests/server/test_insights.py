"""Delivery performance (issue 18) through the real pipeline: orders sent out, a courier's
trace replayed over its socket, arrivals detected from GPS, deliveries and a failure;
then the stored facts against the trace, and the summary against figures computed here
from the stored rows."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from server.base.settings import Settings
from server.domain.histograms import DWELL, LATENESS
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server

DEG_PER_KM = 0.01407  # of longitude along lat 50.30
LAT = 50.30
X0 = 11.90
SPEED_MPS = 10.0
FIX_S = 5.0


def lon_at(km: float) -> float:
    return X0 + km * DEG_PER_KM


def leg(from_km: float, to_km: float) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [[lon_at(from_km), LAT], [lon_at(to_km), LAT]]}


def geohash(lon: float, lat: float, length: int = 5) -> str:
    """The standard geohash, written here to check PostGIS's zone independently."""
    alphabet = "0123456789bcdefghjkmnpqrstuvwxyz"
    lo = [-180.0, -90.0]
    hi = [180.0, 90.0]
    bits: list[int] = []
    while len(bits) < length * 5:
        axis = 0 if len(bits) % 2 == 0 else 1
        value = (lon, lat)[axis]
        mid = (lo[axis] + hi[axis]) / 2
        bits.append(1 if value >= mid else 0)
        if value >= mid:
            lo[axis] = mid
        else:
            hi[axis] = mid
    return "".join(
        alphabet[int("".join(map(str, bits[i : i + 5])), 2)] for i in range(0, len(bits), 5)
    )


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class Trace:
    """A courier's fixes along the street, at SPEED_MPS, one every FIX_S."""

    def __init__(self, t0: datetime) -> None:
        self.t0 = t0
        self.t_s = 0.0
        self.km = 0.0
        self.seq = 0
        self.fixes: list[dict[str, Any]] = []

    def _fix(self, speed: float) -> None:
        self.seq += 1
        at = self.t0 + timedelta(seconds=self.t_s)
        self.fixes.append(fix(self.seq, at, lon_at(self.km), LAT, speed=speed, acc=5.0))

    def drive_to(self, km: float) -> None:
        while self.km < km - 1e-9:
            self.t_s += FIX_S
            self.km = min(km, self.km + SPEED_MPS * FIX_S / 1000.0)
            self._fix(SPEED_MPS)

    def stand(self, seconds: float) -> datetime:
        """Stand still; returns when the courier got there (the first still fix)."""
        first = self.t0 + timedelta(seconds=self.t_s + FIX_S)
        for _ in range(int(seconds / FIX_S)):
            self.t_s += FIX_S
            self._fix(0.0)
        return first

    def take(self) -> list[dict[str, Any]]:
        out, self.fixes = self.fixes, []
        return out


async def send(courier: Courier, fixes: list[dict[str, Any]]) -> None:
    for f in fixes:
        await courier.send(f)
    await courier.wait_acked(f["seq"] for f in fixes)


async def facts(db: asyncpg.Connection) -> dict[int, asyncpg.Record]:
    rows = await db.fetch("SELECT * FROM delivery_facts ORDER BY order_id, attempt")
    return {r["order_id"]: r for r in rows}


async def test_facts_and_summary_from_a_replayed_day(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, insights_eta_sample_s=10.0, fleet_interval_ms=20.0)
    start = now()
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        hour = timedelta(hours=1)
        a = await dispatch.order(  # on time and in its window
            lon_at(1.0), LAT, promised_by=(start + hour).isoformat(),
            window={"start": (start - hour).isoformat(), "end": (start + hour).isoformat()},
        )  # fmt: skip
        b = await dispatch.order(lon_at(5.0), LAT, promised_by=(start - hour).isoformat())
        c = await dispatch.order(lon_at(6.0), LAT)
        await dispatch.out_for_delivery(a["id"], driver_id, route=leg(0.0, 1.0))
        await dispatch.out_for_delivery(b["id"], driver_id, route=leg(1.0, 5.0))
        await dispatch.out_for_delivery(c["id"], driver_id, route=leg(5.0, 6.0))
        # The trace lies in the past: its arrivals come before the deliveries below.
        trace = Trace(now() - timedelta(minutes=15))
        trace._fix(SPEED_MPS)
        trace.drive_to(1.0)
        arrived_a = trace.stand(60.0)
        async with Courier(server.ws_url, token) as courier:
            await send(courier, trace.take())
            await _arrival(db, a["id"])
            await dispatch.status(a["id"], "delivered")
            trace.drive_to(5.0)
            arrived_b = trace.stand(60.0)
            await send(courier, trace.take())
            await _arrival(db, b["id"])
            await dispatch.status(b["id"], "delivered")
        driver = httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
        )
        async with driver:
            failed = await driver.post(
                f"/api/orders/{c['id']}/status",
                json={"status": "failed", "reason": "not_home"},
                headers={"Idempotency-Key": "c-1"},
            )
        assert failed.status_code == 200, failed.text
        day = start.date()
        summary = await dispatch.client.get(
            "/api/insights/summary",
            params={"from": (day - timedelta(days=1)).isoformat(), "to": day.isoformat()},
        )
        by_driver = await dispatch.client.get(
            "/api/insights/drivers", params={"from": (day - timedelta(days=1)).isoformat()}
        )
    got = await facts(db)
    # GPS arrivals where the trace stood still, not when anyone pressed a button.
    assert abs((got[a["id"]]["arrived_at"] - arrived_a).total_seconds()) <= FIX_S
    assert abs((got[b["id"]]["arrived_at"] - arrived_b).total_seconds()) <= FIX_S
    assert got[c["id"]]["arrived_at"] is None
    assert got[c["id"]]["outcome"] == "failed" and got[c["id"]]["failure_reason"] == "not_home"
    for order in (a, b, c):
        row = got[order["id"]]
        assert row["zone"] == geohash(order["destination"]["lon"], order["destination"]["lat"])
        assert row["driver_id"] == driver_id and row["attempt"] == 1
        assert row["out_for_delivery_at"] is not None and row["assigned_at"] is not None
    assert got[a["id"]]["stops_on_run"] == 1 and got[c["id"]]["stops_on_run"] == 3
    for order in (a, b):
        row = got[order["id"]]
        door_s = (row["finished_at"] - row["arrived_at"]).total_seconds()
        assert row["dwell_s"] == pytest.approx(door_s, abs=0.01)
    accuracy = await db.fetch("SELECT * FROM eta_accuracy ORDER BY order_id, horizon")
    horizons = {(r["order_id"], r["horizon"]) for r in accuracy}
    # B was out for delivery ~9.5 min before its arrival: the dispatch and 5 min ETAs only.
    assert horizons == {(a["id"], "dispatch"), (b["id"], "dispatch"), (b["id"], "5")}
    five = next(r for r in accuracy if r["horizon"] == "5")
    before_s = (five["arrived_at"] - five["shown_at"]).total_seconds()
    assert 300.0 <= before_s <= 300.0 + 2 * 10.0
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["time_zone"] == "UTC"
    _check_against_rows(body["current"], list(got.values()), list(accuracy))
    assert body["previous"]["attempts"] == 0 and body["previous"]["on_time_rate_promise"] is None
    rows = by_driver.json()["rows"]
    assert [(r["driver_id"], r["name"], r["attempts"]) for r in rows] == [(driver_id, "Ana", 3)]


async def _arrival(db: asyncpg.Connection, order_id: int) -> None:
    """Wait for the recorder to write the order's GPS arrival (no event to wait on)."""
    sql = "SELECT arrived_at IS NOT NULL FROM delivery_facts WHERE order_id = $1"
    async with asyncio.timeout(30.0):
        while not await db.fetchval(sql, order_id):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def _check_against_rows(
    figures: dict[str, Any], rows: list[asyncpg.Record], accuracy: list[asyncpg.Record]
) -> None:
    finished = [r for r in rows if r["finished_at"] is not None]
    delivered = [r for r in finished if r["outcome"] == "delivered"]
    promised = [r for r in delivered if r["promised_by"] is not None]
    windowed = [r for r in delivered if r["window_end"] is not None]
    firsts = [r for r in finished if r["attempt"] == 1]
    assert figures["deliveries"] == len(delivered) == 2
    assert figures["attempts"] == len(finished) == 3
    assert figures["on_time_rate_promise"] == round(
        sum(r["finished_at"] <= r["promised_by"] for r in promised) / len(promised), 4
    )
    assert figures["on_time_rate_promise"] == 0.5
    assert figures["on_time_rate_window"] == round(
        sum(r["window_start"] <= r["finished_at"] <= r["window_end"] for r in windowed)
        / len(windowed),
        4,
    )
    assert figures["first_attempt_success_rate"] == round(
        sum(r["outcome"] == "delivered" for r in firsts) / len(firsts), 4
    )
    assert figures["failure_reasons"] == dict(
        Counter(r["failure_reason"] for r in finished if r["outcome"] == "failed")
    )
    lateness = [
        (r["finished_at"] - (r["window_end"] or r["promised_by"])).total_seconds()
        for r in delivered
        if (r["window_end"] or r["promised_by"]) is not None
    ]
    for q, name in ((0.5, "lateness_median_s"), (0.9, "lateness_p90_s")):
        assert abs(figures[name] - nearest_rank(lateness, q)) <= LATENESS.width
    dwell = [r["dwell_s"] for r in finished if r["dwell_s"] is not None]
    assert len(dwell) == 2
    assert abs(figures["time_at_door_median_s"] - nearest_rank(dwell, 0.5)) <= DWELL.width
    legs_h = sum(r["leg_s"] or 0.0 for r in finished) / 3600.0
    # Rounded to 0.01 by the server from its own float sums: equal within that rounding.
    assert figures["stops_per_driver_hour"] == pytest.approx(len(finished) / legs_h, abs=0.011)
    for horizon in ("dispatch", "5"):
        errors = [abs(r["error_s"]) for r in accuracy if r["horizon"] == horizon]
        eta = figures["eta"][horizon]
        assert eta["n"] == len(errors)
        assert abs(eta["mae_s"] - sum(errors) / len(errors)) <= 0.05
        inside = [r["in_window"] for r in accuracy if r["horizon"] == horizon]
        assert eta["window_coverage"] == round(sum(inside) / len(inside), 4)
    assert figures["eta"]["60"] == {
        "n": 0, "mae_s": None, "p90_abs_error_s": None, "window_coverage": None,
    }  # fmt: skip
