"""Track exports: `GET /api/drivers/{id}/track` and `GET /api/orders/{id}/track` in GeoJSON,
GPX and CSV, read back row by row against the fixes a real courier sent through ingest."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import gpxpy
import pytest
import xmlschema

from server.base.settings import Settings
from server.store.history import TRACK_SETTINGS, TRACK_SQL
from server.store.partitions import ensure_days
from server.wire.exports import ORDER_COLUMNS
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import RunningServer, run_server

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


async def test_the_track_query_streams_from_the_driver_time_index(
    db: asyncpg.Connection,
) -> None:
    """Partitions pruned to the range's days, each read in (driver, time) order from its
    primary key, one after the other: no sequential scan, no bitmap scan, no sort (the
    first rows stream before the whole range is read)."""
    today = now().date()
    await ensure_days(db, [today - timedelta(days=d) for d in range(4)])
    await db.execute(
        """
        INSERT INTO positions (driver_id, recorded_at, received_at, geom)
        SELECT d, now() - s * interval '12 s', now(), ST_SetSRID(ST_MakePoint(11.9, 50.3), 4326)
        FROM generate_series(1, 10) d, generate_series(0, 20000) s"""
    )
    await db.execute("ANALYZE positions")
    to_at = now()
    async with db.transaction(readonly=True):
        await db.execute(TRACK_SETTINGS)
        explained = await db.fetchval(
            "EXPLAIN (FORMAT JSON) " + TRACK_SQL, 7, to_at - timedelta(hours=48), to_at
        )
    plan = json.loads(explained)[0]["Plan"]
    assert plan["Node Type"] == "Append", plan
    scans = [(p["Node Type"], p["Index Name"]) for p in plan["Plans"]]
    assert len(scans) >= 2  # the range covers two or three days' partitions
    assert all(kind == "Index Scan" and name.endswith("_pkey") for kind, name in scans), scans


async def _day_of_fixes(db: asyncpg.Connection, driver_id: int) -> None:
    """A day at 1 Hz (86,400 rows, ~25 MB of GeoJSON), written straight into the table."""
    today = now().date()
    await ensure_days(db, [today - timedelta(days=1), today])
    await db.execute(
        """
        INSERT INTO positions (driver_id, recorded_at, received_at, geom, accuracy_m)
        SELECT $1, now() - s * interval '1 s', now(),
               ST_SetSRID(ST_MakePoint(11.9, 50.3), 4326), 5
        FROM generate_series(1, 86400) s""",
        driver_id,
    )


async def _export_transactions(db: asyncpg.Connection) -> int:
    """Backends still inside an export's transaction (its cursor open)."""
    count: int = await db.fetchval(
        """SELECT count(*) FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()
             AND xact_start IS NOT NULL AND query LIKE '%ORDER BY recorded_at%'"""
    )
    return count


async def _until_no_export(db: asyncpg.Connection, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while await _export_transactions(db):  # noqa: ASYNC110 (server state: polled)
            await asyncio.sleep(0.05)


async def _raw_get(server: RunningServer, path: str) -> tuple[asyncio.StreamReader, Any]:
    """A GET whose answer nobody reads: a tiny receive buffer fills at once."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(server.base_url.rsplit(":", 1)[1])))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\r\n".encode()
    )
    await writer.drain()
    return reader, writer


async def test_a_reader_too_slow_is_cut_off_and_the_connection_given_back(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """A client that stops reading holds the export's pooled connection for at most
    TRACKER_EXPORT_TIMEOUT_S; its answer then ends without the last chunk (incomplete,
    not a short file that looks whole)."""
    settings = dataclasses.replace(settings, export_timeout_s=1.0)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        await _day_of_fixes(db, driver_id)
        reader, writer = await _raw_get(server, f"/api/drivers/{driver_id}/track")
        async with asyncio.timeout(10):
            while not await _export_transactions(db):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        await _until_no_export(db, timeout_s=10)  # cut off after 1 s
        received = await asyncio.wait_for(reader.read(), 30)  # now read all: it ends
        writer.close()
        after = await dispatch.client.get(
            f"/api/drivers/{driver_id}/track",
            params={"from": (now() - timedelta(minutes=1)).isoformat(), "format": "csv"},
        )
    assert received.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding: chunked" in received.lower()
    assert not received.endswith(b"\r\n0\r\n\r\n")  # no last chunk
    assert after.status_code == 200 and len(after.text.splitlines()) > 50  # the pool is fine


async def test_a_client_that_hangs_up_frees_the_connection_at_once(
    settings: Settings, db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    """Quietly: a hang-up is no error (nothing logged as cut off)."""
    caplog.set_level(logging.INFO, logger="tracker.exports")
    async with run_server(settings) as server:  # the time limit: 120 s, not what ends it
        driver_id, _ = await server.create_driver()
        await _day_of_fixes(db, driver_id)
        reader, writer = await _raw_get(server, f"/api/drivers/{driver_id}/track")
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        writer.transport.abort()
        await _until_no_export(db, timeout_s=10)
        async with server.http() as client:  # the server has moved on since
            assert (await client.get("/livez")).status_code == 200
    messages = [r.getMessage() for r in caplog.records if r.name == "tracker.exports"]
    assert messages == ["export stopped: the client hung up"]


async def test_the_order_list_as_csv_is_the_json_list_escaped_for_spreadsheets(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        formula = await dispatch.order(
            reference='=HYPERLINK("http://evil.example","x")',
            customer={"name": "@SUM(1+1)", "phone": "+351912345678"},
        )
        plain = await dispatch.order(reference="R-2", destination={"lat": 50.3, "lon": -8.5})
        await dispatch.out_for_delivery(plain["id"], driver_id)
        csv_all = await dispatch.client.get("/api/orders", params={"format": "csv"})
        filters = {"status": "out_for_delivery", "from": plain["created_at"]}
        csv_some = await dispatch.client.get("/api/orders", params={**filters, "format": "csv"})
        json_some = await dispatch.client.get("/api/orders", params=filters)
        backwards = await dispatch.client.get(
            "/api/orders",
            params={"format": "csv", "from": "2026-11-30T10:00:00Z", "to": "2026-11-30T09:00:00Z"},
        )
        bad_format = await dispatch.client.get("/api/orders", params={"format": "xlsx"})
    assert csv_all.status_code == 200, csv_all.text
    assert csv_all.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(csv_all.text)))
    assert list(rows[0]) == [*ORDER_COLUMNS]
    assert [int(r["id"]) for r in rows] == [formula["id"], plain["id"]]
    first, second = rows
    # A cell a spreadsheet would run as a formula is text; a phone number stays as it is.
    assert first["reference"] == "'" + formula["reference"]
    assert first["customer_name"] == "'@SUM(1+1)"
    assert first["customer_phone"] == "+351912345678"
    assert first["tracking_code"] == formula["tracking_code"]
    assert (first["status"], first["driver_id"], first["late"]) == ("confirmed", "", "false")
    assert second["status"] == "out_for_delivery" and second["driver_id"] == str(driver_id)
    assert (float(second["lat"]), float(second["lon"])) == (50.3, -8.5)
    assert datetime.fromisoformat(second["created_at"]) == datetime.fromisoformat(
        plain["created_at"]
    )
    # The same filters as the JSON list, the same orders.
    some = list(csv.DictReader(io.StringIO(csv_some.text)))
    assert [int(r["id"]) for r in some] == [o["id"] for o in json_some.json()["orders"]]
    assert [int(r["id"]) for r in some] == [plain["id"]]
    assert backwards.status_code == 422 and "from" in backwards.json()["error"]
    assert bad_format.status_code == 422 and "format" in bad_format.json()["error"]
