"""Existing phone apps: the OsmAnd protocol's reference samples as golden tests, and
OwnTracks in HTTP mode."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from server.base.settings import Settings
from tests.server.courier import now
from tests.server.harness import run_server

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SAMPLES_FILE = DATA / "osmand_samples.json"
SAMPLES: list[dict[str, Any]] = (
    json.loads(SAMPLES_FILE.read_text()) if SAMPLES_FILE.exists() else []
)
KNOT_MPS = 1852.0 / 3600.0


def golden_settings(settings: Settings) -> Settings:
    """The samples are years old, and the legacy client's sit on 0,0: allow both."""
    return dataclasses.replace(
        settings,
        max_fix_age_s=60 * 365 * 86_400.0,
        retention_days=60 * 365,
        reject_null_island=False,
    )


def approx(value: float | None) -> object:
    """Equality for REAL (float32) columns; None stays None."""
    return None if value is None else pytest.approx(value, rel=1e-6)


def as_osmand_request(sample: dict[str, Any]) -> tuple[str, str]:
    parts = urlsplit(sample["path_and_query"])
    return sample["method"], "/osmand" + (f"?{parts.query}" if parts.query else "")


async def stored(db: asyncpg.Connection, driver_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        """SELECT recorded_at, received_at, geom, speed_mps, heading_deg, altitude_m,
                  accuracy_m, battery, attributes
           FROM positions WHERE driver_id = $1""",
        driver_id,
    )


@pytest.mark.skipif(not SAMPLES, reason=f"OsmAnd samples not found at {SAMPLES_FILE}")
@pytest.mark.parametrize(
    "sample", SAMPLES, ids=[f"{i}-{s['test_method']}" for i, s in enumerate(SAMPLES)]
)
async def test_osmand_reference_sample(
    settings: Settings, db: asyncpg.Connection, sample: dict[str, Any]
) -> None:
    expect = sample["expect"]
    async with run_server(golden_settings(settings)) as server:
        driver_id = None
        if expect["device_unique_id"] is not None:
            driver_id, _ = await server.create_driver(device_id=expect["device_unique_id"])
        method, path = as_osmand_request(sample)
        headers = {"Content-Type": sample["content_type"]} if sample["content_type"] else {}
        sent_at = now()
        async with server.http() as client:
            response = await client.request(
                method, path, content=sample["body"] or b"", headers=headers
            )
    assert response.status_code == (expect["http_status"] or 200), response.text
    if driver_id is None:
        assert await db.fetchval("SELECT count(*) FROM positions") == 0
        return
    rows = await stored(db, driver_id)
    if expect["lat"] is None:  # cell/Wi-Fi only: acknowledged, nothing to place
        assert rows == []
        return
    [row] = rows
    lon, lat = row["geom"]
    assert (lat, lon) == (expect["lat"], expect["lon"])
    if expect["time"] is not None:
        assert row["recorded_at"] == datetime.fromisoformat(expect["time"].replace("Z", "+00:00"))
    elif "timestamp=" in sample["path_and_query"]:  # zone-less local time: read as UTC here
        assert row["recorded_at"] == datetime(2014, 6, 4, 9, 10, 11, tzinfo=UTC)
    else:  # no time sent: stamped on arrival
        assert abs((row["recorded_at"] - sent_at).total_seconds()) < 5
    speed = expect["speed_knots"]  # the reference's knots factor (1.94384) is rounded
    assert row["speed_mps"] == (
        None if speed is None else pytest.approx(speed * KNOT_MPS, rel=1e-4)
    )
    assert row["heading_deg"] == approx(expect["course"])
    assert row["altitude_m"] == approx(expect["altitude"])
    battery = expect["battery_level"]
    assert row["battery"] == approx(None if battery is None else battery / 100.0)
    # Accuracy: the reference drops JSON values under 10 m; we keep what the phone said.
    raw_accuracy = expect["accuracy"]
    if sample["content_type"] == "application/json":
        raw_accuracy = json.loads(sample["body"])["location"]["coords"]["accuracy"]
    assert row["accuracy_m"] == approx(raw_accuracy)
    attributes = row["attributes"] or {}
    assert {k: attributes.get(k) for k in expect["attributes"]} == expect["attributes"]
    for field in ("motion", "event", "odometer"):
        if expect[field] is not None:
            assert attributes[field] == expect[field]


async def test_osmand_forms_and_refusals(settings: Settings, db: asyncpg.Connection) -> None:
    t = now() - timedelta(seconds=30)
    async with run_server(settings) as server, server.http() as client:
        driver_id, _ = await server.create_driver(device_id="phone-1")
        query = f"id=phone-1&timestamp={int(t.timestamp())}&lat=50.3&lon=11.9&speed=10&batt=50"
        form = await client.post(
            "/osmand",
            content=query.replace("lat=50.3", "lat=50.3001"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        put = await client.put(
            f"/osmand?{query.replace(str(int(t.timestamp())), str(int(t.timestamp()) + 5))}"
        )
        unknown_query = await client.get("/osmand?id=nobody&lat=1&lon=1")
        unknown_json = await client.post(
            "/osmand",
            json={"device_id": "nobody", "location": {"coords": {"latitude": 1, "longitude": 1}}},
        )
        bad_number = await client.get("/osmand?id=phone-1&lat=north&lon=1")
        bad_json = await client.post(
            "/osmand", content=b"{", headers={"Content-Type": "application/json"}
        )
        far_future = await client.get(
            f"/osmand?id=phone-1&lat=50.3&lon=11.9&timestamp={int(t.timestamp()) + 86_400}"
        )
    assert form.status_code == put.status_code == 200
    # An unknown device is answered as a stored fix is (test_phone_app_auth.py): ids are secret.
    assert unknown_query.status_code == unknown_json.status_code == 200
    assert bad_number.status_code == 400 and "lat" in bad_number.text
    assert bad_json.status_code == 400
    # A refused fix is answered 200 (the app would resend it forever) but not stored, and
    # the answer does not say so (an unknown device's could not).
    assert far_future.status_code == 200 and "x-tracker-rejected" not in far_future.headers
    rows = await stored(db, driver_id)
    assert len(rows) == 2
    assert {round(r["geom"][1], 4) for r in rows} == {50.3, 50.3001}
    assert all(
        r["speed_mps"] == pytest.approx(10 * KNOT_MPS, rel=1e-6) and r["battery"] == 0.5
        for r in rows
    )


async def test_osmand_answers_after_commit(settings: Settings, db: asyncpg.Connection) -> None:
    settings = dataclasses.replace(settings, batch_max_wait_ms=300.0)  # a slow flush
    async with run_server(settings) as server, server.http() as client:
        driver_id, _ = await server.create_driver(device_id="phone-2")
        response = await client.get(
            f"/osmand?id=phone-2&lat=50.3&lon=11.9&timestamp={int(now().timestamp())}"
        )
        count = await db.fetchval("SELECT count(*) FROM positions WHERE driver_id = $1", driver_id)
    assert response.status_code == 200 and count == 1


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_owntracks(settings: Settings, db: asyncpg.Connection) -> None:
    t = int((now() - timedelta(minutes=1)).timestamp())
    location = {"_type": "location", "lat": 41.15, "lon": -8.61, "tst": t, "acc": 12, "alt": 80,
                "vel": 36, "cog": 270, "batt": 64, "tid": "an", "conn": "m"}  # fmt: skip
    async with run_server(settings) as server, server.http() as client:
        driver_id, token = await server.create_driver(device_id="ana/phone")
        by_password = await client.post(
            "/owntracks", json=location, headers=basic("ana", token) | {"X-Limit-D": "phone"}
        )
        by_headers = await client.post(
            "/owntracks",
            json={**location, "tst": t + 10},
            headers={"X-Limit-U": "ana", "X-Limit-D": "phone"},
        )
        wrong_password = await client.post(
            "/owntracks",
            json={**location, "tst": t + 20},
            headers=basic("ana", "guess") | {"X-Limit-D": "phone"},
        )
        anonymous = await client.post("/owntracks", json={**location, "tst": t + 30})
        unknown = await client.post(
            "/owntracks", json={**location, "tst": t + 40}, headers={"X-Limit-U": "bob"}
        )
        other_type = await client.post(
            "/owntracks",
            json={"_type": "transition", "event": "enter"},
            headers={"X-Limit-U": "ana"},
        )
        empty = await client.post("/owntracks", content=b"", headers={"X-Limit-U": "ana"})
        garbage = await client.post("/owntracks", content=b"{nope", headers={"X-Limit-U": "ana"})
        missing_lat = await client.post(
            "/owntracks",
            json={"_type": "location", "lon": 1, "tst": t},
            headers={"X-Limit-U": "ana", "X-Limit-D": "phone"},
        )
    assert by_password.status_code == 200 and by_password.json() == []
    # Without the password nothing identifies a device (test_phone_app_auth.py).
    assert by_headers.status_code == wrong_password.status_code == anonymous.status_code == 401
    assert unknown.status_code == 401
    assert (
        other_type.json() == []
        and empty.json() == []
        and other_type.status_code == empty.status_code == 200
    )
    assert garbage.status_code == 400 and missing_lat.status_code == 400
    [row] = await stored(db, driver_id)
    assert row["recorded_at"] == datetime.fromtimestamp(t, UTC)
    assert row["geom"] == (-8.61, 41.15)
    assert row["speed_mps"] == pytest.approx(10.0) and row["heading_deg"] == 270.0
    assert (
        row["battery"] == pytest.approx(0.64)
        and row["accuracy_m"] == 12.0
        and row["altitude_m"] == 80.0
    )
    assert row["attributes"] == {"tid": "an", "conn": "m"}


async def test_phone_app_fixes_reach_watchers(settings: Settings, db: asyncpg.Connection) -> None:
    """Same pipeline as the socket: the fleet view moves."""
    async with run_server(settings) as server, server.http() as client:
        driver_id, _ = await server.create_driver(device_id="phone-3")
        await client.get(
            f"/osmand?id=phone-3&lat=50.31&lon=11.91&timestamp={int(now().timestamp())}"
        )
        fleet = server.services.live.fleet
        assert fleet.drivers[driver_id].position is not None
        assert fleet.drivers[driver_id].lat == 50.31
