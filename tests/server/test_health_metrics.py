"""`/livez`, `/readyz` (`/healthz`) and `/metrics` report what operators need; metrics
only to whoever holds the metrics token or the admin key."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import asyncpg
import pytest

from server.base.settings import Settings
from server.edges.rest import health
from server.edges.services import Services
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.harness import run_server

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics")


async def test_metrics_count_what_happened(settings: Settings, db: asyncpg.Connection) -> None:
    t0 = now() - timedelta(minutes=1)
    async with run_server(settings) as server:
        _, token = await server.create_driver()
        async with Courier(server.ws_url, token) as courier, server.http() as client:
            await courier.send_batch(
                [fix(i, t0 + timedelta(seconds=i), 11.9, 50.3) for i in range(10)]
            )
            await courier.wait_acked(range(10))
            acks_before = courier.ack_messages
            await courier.send(fix(3, t0 + timedelta(seconds=3), 11.9, 50.3))  # a duplicate
            await courier.send(fix(20, t0, 11.9, 95.0))
            await courier.send("junk")
            # The duplicate's own ack (3 is in `acked` already): it has been counted then.
            await courier.wait_until(lambda: courier.ack_messages > acks_before)
            await courier.wait_until(lambda: bool(courier.errors and courier.rejected))
            text = (await client.get("/metrics", headers=ADMIN)).text
            health = await client.get("/healthz")
    assert sample(text, "tracker_fixes_received_total") == 12
    assert sample(text, "tracker_fixes_stored_total") == 10
    assert sample(text, "tracker_fixes_duplicate_total") == 1
    assert sample(text, 'tracker_fixes_rejected_total{reason="lat_range"}') == 1
    assert sample(text, "tracker_frames_invalid_total") == 1
    assert sample(text, "tracker_drivers_connected") == 1
    assert sample(text, "tracker_write_queue_rows") == 0
    assert sample(text, "tracker_write_batch_rows_count") >= 2
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "database": "ok",
        "writes": "ok",
        "write_queue_rows": 0,
        "bus": "ok",
    }
    assert sample(text, "tracker_bus_connected") == 1  # in-process: always


async def test_metrics_need_the_metrics_token_or_the_admin_key(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, metrics_token="scrape-me")
    async with run_server(settings) as server, server.http() as client:
        made = await client.post("/api/keys", json={"name": "ops", "role": "admin"}, headers=ADMIN)
        database_key = made.json()["key"]
        anonymous = await client.get("/metrics")
        wrong = await client.get("/metrics", headers=bearer("scrape-me-not"))
        by_database_key = await client.get("/metrics", headers=bearer(database_key))
        by_token = await client.get("/metrics", headers=bearer("scrape-me"))
        by_admin = await client.get("/metrics", headers=ADMIN)
    for refused in (anonymous, wrong, by_database_key):
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert "tracker_" not in refused.text
    for allowed in (by_token, by_admin):
        assert allowed.status_code == 200
        assert sample(allowed.text, "tracker_drivers_connected") == 0


async def test_livez_and_readyz(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server, server.http() as client:
        livez = await client.get("/livez")
        readyz = await client.get("/readyz")
        healthz = await client.get("/healthz")
    assert livez.status_code == 200 and livez.json() == {"status": "ok"}
    assert readyz.status_code == 200 and readyz.json()["status"] == "ok"
    assert healthz.json() == readyz.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_flood_of_readiness_probes_pings_the_database_once(
    settings: Settings, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/readyz is public: a flood of it must not take the request pool's connections."""
    pings = 0
    ping = health._database

    async def counted(services: Services) -> str:
        nonlocal pings
        pings += 1
        return await ping(services)

    monkeypatch.setattr(health, "_database", counted)
    async with run_server(settings) as server, server.http() as client:
        answers = await asyncio.gather(*(client.get("/readyz") for _ in range(40)))
    assert [a.status_code for a in answers] == [200] * 40
    assert all(a.json()["database"] == "ok" for a in answers)
    assert pings == 1, pings  # one ping, shared, then kept for PROBE_TTL_S
