"""Track exports: `GET /api/drivers/{id}/track` and `GET /api/orders/{id}/track` in GeoJSON,
GPX and CSV, read back row by row against the fixes a real courier sent through ingest."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import gpxpy
import pytest
import xmlschema

from server.base.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server

GPX_XSD = xmlschema.XMLSchema(Path(__file__).parent / "data" / "gpx_1_1.xsd")
GPXTPX = "{http://www.garmin.com/xmlschemas/TrackPointExtension/v2}"
READINGS = ("accuracy_m", "speed_mps", "heading_deg", "altitude_m", "battery")
CSV_COLUMNS = ["recorded_at", "lat", "lon", *READINGS]


def _sent(start: datetime) -> list[dict[str, Any]]:
    """Five fixes 10 s and ~70 m apart; some readings missing, some not exact in `real`."""
    fixes = []
    for i in range(5):
        t = start + timedelta(seconds=10 * i)
        extra: dict[str, Any] = {"acc": 4.7 + i, "speed": 7.25, "heading": 90.0 + i}
        if i != 2:
            extra |= {"alt": 120.5 + i, "battery": 0.8 - i / 100}
        fixes.append(fix(i + 1, t, 11.9 + i * 0.001, 50.3, **extra))
    return fixes


def _expected(sent: dict[str, Any]) -> dict[str, Any]:
    """A sent fix as exports give it back."""
    return {
        "recorded_at": datetime.fromtimestamp(sent["t"] / 1000, UTC),
        "lon": sent["lon"],
        "lat": sent["lat"],
        "accuracy_m": sent.get("acc"),
        "speed_mps": sent.get("speed"),
        "heading_deg": sent.get("heading"),
        "altitude_m": sent.get("alt"),
        "battery": sent.get("battery"),
    }


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _from_geojson(body: dict[str, Any]) -> list[dict[str, Any]]:
    assert body["type"] == "FeatureCollection"
    rows = []
    for feature in body["features"]:
        assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        props = feature["properties"]
        rows.append(
            {"recorded_at": _time(props["recorded_at"]), "lon": lon, "lat": lat}
            | {name: props[name] for name in READINGS}
        )
    return rows


def _from_csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == CSV_COLUMNS
    return [
        {
            "recorded_at": _time(row["recorded_at"]),
            "lon": float(row["lon"]),
            "lat": float(row["lat"]),
        }
        | {name: float(row[name]) if row[name] else None for name in READINGS}
        for row in reader
    ]


def _from_gpx(text: str) -> list[dict[str, Any]]:
    GPX_XSD.validate(text)  # raises with the first violation of GPX 1.1
    gpx = gpxpy.parse(text)
    assert gpx.version == "1.1" and len(gpx.tracks) == 1 and len(gpx.tracks[0].segments) == 1
    rows = []
    for point in gpx.tracks[0].segments[0].points:
        ext = {e.tag: float(e.text or "nan") for x in point.extensions for e in x}
        rows.append(
            {
                "recorded_at": point.time,
                "lon": point.longitude,
                "lat": point.latitude,
                "speed_mps": ext.get(GPXTPX + "speed"),
                "heading_deg": ext.get(GPXTPX + "course"),
                "altitude_m": point.elevation,
            }
        )
    return rows


async def _track(dispatch: Dispatch, path: str, **params: str) -> tuple[str, str]:
    response = await dispatch.client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.headers["content-type"], response.text


async def test_a_drivers_track_in_every_format_is_what_was_sent(
    settings: Settings, db: asyncpg.Connection
) -> None:
    start = now() - timedelta(minutes=10)
    sent = _sent(start)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        async with Courier(server.ws_url, token) as courier:
            await courier.send_batch(sent)
            await courier.wait_acked(range(1, 6))
        path = f"/api/drivers/{driver_id}/track"
        geojson_type, geojson = await _track(dispatch, path)  # default: the last 24 h
        gpx_type, gpx = await _track(dispatch, path, format="gpx")
        csv_type, csv_text = await _track(dispatch, path, format="csv")
        # Both ends inclusive: the second to the fourth fix.
        middle = {
            "from": _expected(sent[1])["recorded_at"].isoformat(),
            "to": _expected(sent[3])["recorded_at"].isoformat(),
        }
        _, part = await _track(dispatch, path, format="csv", **middle)
    expected = [_expected(s) for s in sent]
    assert geojson_type == "application/geo+json"
    assert gpx_type == "application/gpx+xml"
    assert csv_type == "text/csv; charset=utf-8"

    assert _from_geojson(json.loads(geojson)) == expected
    assert _from_csv(csv_text) == expected
    assert _from_csv(part) == expected[1:4]
    assert _from_gpx(gpx) == [
        {k: e[k] for k in ("recorded_at", "lon", "lat", "speed_mps", "heading_deg", "altitude_m")}
        for e in expected
    ]


async def test_an_orders_track_is_its_last_delivery_attempt(
    settings: Settings, db: asyncpg.Connection
) -> None:
    t0 = now().replace(microsecond=0) - timedelta(minutes=10)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(reference="R-1")
        waiting = await dispatch.order(reference="R-2")
        await dispatch.assign(waiting["id"], driver_id)
        await dispatch.out_for_delivery(order["id"], driver_id)
        await dispatch.status(order["id"], "delivered")
        # The timeline at known instants: out at t0, delivered a minute later.
        for status, at in (("out_for_delivery", t0), ("delivered", t0 + timedelta(minutes=1))):
            await db.execute(
                "UPDATE order_events SET at = $3 WHERE order_id = $1 AND status = $2",
                order["id"],
                status,
                at,
            )
        sent = [
            fix(i + 1, t0 + timedelta(seconds=s), 11.9 + i * 0.0005, 50.3, acc=5.0)
            for i, s in enumerate((-20, 0, 20, 40, 60, 80))
        ]
        async with Courier(server.ws_url, token) as courier:
            await courier.send_batch(sent)
            await courier.wait_acked(range(1, 7))
        path = f"/api/orders/{order['id']}/track"
        _, geojson = await _track(dispatch, path)
        _, csv_text = await _track(dispatch, path, format="csv")
        _, gpx = await _track(dispatch, path, format="gpx")
        not_out = await dispatch.client.get(f"/api/orders/{waiting['id']}/track")
        unknown = await dispatch.client.get("/api/orders/999999/track")
        bad_format = await dispatch.client.get(path, params={"format": "kml"})

    leg = [_expected(s) for s in sent[1:5]]  # from out_for_delivery to delivered
    assert _from_geojson(json.loads(geojson)) == leg
    assert _from_csv(csv_text) == leg
    assert [p["recorded_at"] for p in _from_gpx(gpx)] == [p["recorded_at"] for p in leg]
    assert not_out.status_code == 409 and "not gone out" in not_out.json()["error"]
    assert unknown.status_code == 404 and unknown.json() == {"error": "no such order"}
    assert bad_format.status_code == 422 and "format" in bad_format.json()["error"]


BAD_REQUESTS = [
    ("from after to", {"from": "2026-11-30T10:00:00Z", "to": "2026-11-30T09:00:00Z"}, 422, "from"),
    ("over the maximum", {"from": "2026-11-01T00:00:00Z", "to": "2026-11-03T00:00:01Z"}, 422, "48"),
    ("not a time", {"from": "yesterday"}, 422, "ISO 8601"),
    ("no zone", {"from": "2026-11-30T10:00:00"}, 422, "zone"),
    ("bad format", {"format": "kml"}, 422, "geojson, gpx, csv"),
]


@pytest.mark.parametrize(
    ("case", "params", "status", "text"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
async def test_bad_track_requests_are_refused(
    settings: Settings,
    db: asyncpg.Connection,
    case: str,
    params: dict[str, str],
    status: int,
    text: str,
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        response = await dispatch.client.get(f"/api/drivers/{driver_id}/track", params=params)
    assert response.status_code == status
    assert text in response.json()["error"]


async def test_only_dispatchers_and_admins_read_tracks(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        created = await dispatch.client.post(
            "/api/keys", json={"name": "desk", "role": "dispatcher"}
        )
        key = created.json()["key"]
        path = f"/api/drivers/{driver_id}/track"
        async with server.http() as anonymous:
            none = await anonymous.get(path)
            as_driver = await anonymous.get(path, headers={"Authorization": f"Bearer {token}"})
            as_dispatcher = await anonymous.get(path, headers={"Authorization": f"Bearer {key}"})
        unknown = await dispatch.client.get("/api/drivers/999999/track")
    assert none.status_code == 401 and as_driver.status_code == 401
    assert as_dispatcher.status_code == 200
    assert unknown.status_code == 404 and unknown.json() == {"error": "no such driver"}
