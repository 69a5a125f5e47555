"""Exports as streams: the track query reads the (driver, time) index in order, and a
stream holds its pooled connection no longer than its time limit, or than its client."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from server.base.settings import Settings
from server.store.history import TRACK_SETTINGS, track_sql
from server.store.partitions import ensure_days
from server.wire.exports import FORMATS
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import now
from tests.server.dispatch import Dispatch
from tests.server.harness import RunningServer, run_server


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
    for fmt in FORMATS:  # each format's lines, formatted by the query, read the same way
        async with db.transaction(readonly=True):
            await db.execute(TRACK_SETTINGS)
            explained = await db.fetchval(
                "EXPLAIN (FORMAT JSON) " + track_sql(fmt), 7, to_at - timedelta(hours=48), to_at
            )
        plan = json.loads(explained)[0]["Plan"]
        assert plan["Node Type"] == "Append", (fmt, plan)
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
