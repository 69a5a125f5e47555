"""`POST /api/ingest`: the same fixes over plain HTTP, answered after commit."""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg

from server.base.settings import Settings
from tests.server.courier import fix, now
from tests.server.harness import run_server


async def test_batch_is_stored_and_acked(settings: Settings, db: asyncpg.Connection) -> None:
    t0 = now() - timedelta(minutes=10)
    fixes = [fix(i, t0 + timedelta(seconds=i), 11.9 + i * 1e-4, 50.3) for i in range(20)]
    bad = {**fixes[0], "seq": 99, "lat": 123.0}
    async with run_server(settings) as server:
        driver_id, token = await server.create_driver()
        async with server.http() as client:
            headers = {"Authorization": f"Bearer {token}"}
            first = await client.post(
                "/api/ingest", json={"type": "fixes", "fixes": [*fixes, bad]}, headers=headers
            )
            # By the time the answer arrives, the rows are committed.
            stored = await db.fetchval(
                "SELECT count(*) FROM positions WHERE driver_id = $1", driver_id
            )
            again = await client.post("/api/ingest", content=json.dumps(fixes[:5]), headers=headers)
    assert first.status_code == 200
    body = first.json()
    assert body["acked"] == list(range(20))
    assert [(r["seq"], r["reason"].split(":")[0]) for r in body["rejected"]] == [(99, "lat_range")]
    assert stored == 20
    assert again.status_code == 200 and again.json()["acked"] == [0, 1, 2, 3, 4]
    assert await db.fetchval("SELECT count(*) FROM positions") == 20  # duplicates stored once


async def test_single_fix_body(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server:
        _, token = await server.create_driver()
        async with server.http() as client:
            response = await client.post(
                "/api/ingest",
                json=fix(7, now(), 11.9, 50.3),
                headers={"Authorization": f"Bearer {token}"},
            )
    assert response.status_code == 200 and response.json()["acked"] == [7]


async def test_bad_requests(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server:
        _, token = await server.create_driver()
        auth = {"Authorization": f"Bearer {token}"}
        async with server.http() as client:
            no_token = await client.post("/api/ingest", json=[])
            wrong_token = await client.post(
                "/api/ingest", json=[], headers={"Authorization": "Bearer nope"}
            )
            garbage = await client.post("/api/ingest", content=b"{{{", headers=auth)
            huge = await client.post(
                "/api/ingest", content=b"[" + b" " * 300_000 + b"]", headers=auth
            )
            wrong_method = await client.get("/api/ingest", headers=auth)
    assert no_token.status_code == 401 and "missing" in no_token.json()["error"]
    assert no_token.headers["www-authenticate"].startswith("Bearer")
    assert wrong_token.status_code == 401
    assert garbage.status_code == 400 and "malformed JSON" in garbage.json()["error"]
    assert huge.status_code == 413
    assert wrong_method.status_code == 405
    assert await db.fetchval("SELECT count(*) FROM positions") == 0
