"""Phone apps cannot move couriers without their secret: OwnTracks needs the driver's token
(X-Limit headers alone only behind a trusted proxy); OsmAnd answers unknown device ids as it
answers known ones and throttles failed look-ups; device ids can be generated long and random."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from server.base.settings import Settings
from server.edges.phone_apps.device_guard import DeviceGuard
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import now
from tests.server.harness import run_server

# Headers that differ between any two answers whatever they say.
VARYING = {"date"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def location(t: int) -> dict[str, Any]:
    return {"_type": "location", "lat": 41.15, "lon": -8.61, "tst": t, "acc": 12}


def shape(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    """What a client sees of an answer, but for the headers that vary by themselves."""
    headers = sorted((k, v) for k, v in response.headers.items() if k.lower() not in VARYING)
    return response.status_code, response.content, headers


async def positions(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM positions"))


async def test_owntracks_needs_the_drivers_token(
    settings: Settings, db: asyncpg.Connection
) -> None:
    t = int((now() - timedelta(minutes=1)).timestamp())
    async with run_server(settings) as server, server.http() as client:
        _, token = await server.create_driver(device_id="ana/phone")
        _, other_token = await server.create_driver("Bob", device_id="bob")

        async def post(headers: dict[str, Any], dt: int) -> httpx.Response:
            return await client.post("/owntracks", json=location(t + dt), headers=headers)

        limit_headers_only = await post({"X-Limit-U": "ana", "X-Limit-D": "phone"}, 1)
        empty_password = await post(basic("ana", "") | {"X-Limit-D": "phone"}, 2)
        no_colon = await post(
            {"Authorization": "Basic " + base64.b64encode(b"ana").decode(), "X-Limit-D": "phone"},
            3,
        )
        non_ascii = await post({"Authorization": "Basic été".encode(), "X-Limit-D": "phone"}, 4)
        not_utf8 = await post(
            {"Authorization": "Basic " + base64.b64encode(b"ana:\xff\xfe").decode()}, 5
        )
        not_base64 = await post({"Authorization": "Basic !!!!", "X-Limit-D": "phone"}, 6)
        control_chars = await post(
            {"Authorization": "Basic " + base64.b64encode(f"a\x00:{token}".encode()).decode()}, 7
        )
        wrong_password = await post(basic("ana", "guess") | {"X-Limit-D": "phone"}, 8)
        # Another driver's token: a wrong password, answered as an unknown device is.
        others_token = await post(basic("ana", other_token) | {"X-Limit-D": "phone"}, 9)
        unknown_device = await post(basic("nobody", token), 10)
        stored_before = await positions(db)
        right = await post(basic("ana", token) | {"X-Limit-D": "phone"}, 11)
    refused = [
        limit_headers_only,
        empty_password,
        no_colon,
        non_ascii,
        not_utf8,
        not_base64,
        control_chars,
        wrong_password,
        others_token,
        unknown_device,
    ]
    assert [r.status_code for r in refused] == [401] * len(refused)
    assert all(r.headers["www-authenticate"].startswith("Basic") for r in refused)
    assert shape(wrong_password) == shape(others_token) == shape(unknown_device)
    assert stored_before == 0
    assert right.status_code == 200 and await positions(db) == 1


async def test_owntracks_trusts_proxy_headers_only_when_told(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, owntracks_trust_proxy_identity=True)
    t = int((now() - timedelta(minutes=1)).timestamp())
    async with run_server(settings) as server, server.http() as client:
        driver_id, _ = await server.create_driver(device_id="ana/phone")
        by_proxy = await client.post(
            "/owntracks", json=location(t), headers={"X-Limit-U": "ana", "X-Limit-D": "phone"}
        )
        # A password, when given, is still checked.
        wrong = await client.post(
            "/owntracks",
            json=location(t + 1),
            headers=basic("ana", "guess") | {"X-Limit-D": "phone"},
        )
        unknown = await client.post(
            "/owntracks", json=location(t + 2), headers={"X-Limit-U": "bob"}
        )
    assert by_proxy.status_code == 200 and by_proxy.json() == []
    assert wrong.status_code == unknown.status_code == 401
    assert await db.fetchval("SELECT count(*) FROM positions WHERE driver_id = $1", driver_id) == 1


async def test_osmand_answers_unknown_ids_as_known_ones(
    settings: Settings, db: asyncpg.Connection
) -> None:
    t = int((now() - timedelta(minutes=1)).timestamp())
    async with run_server(settings) as server, server.http() as client:
        await server.create_driver(device_id="known-1")
        guard = server.services.devices
        decoys = 0  # unknown ids kept waiting as long as known ones are (the time tells too)
        decoy_wait_s = guard.decoy_wait_s

        def counted_decoy_wait_s() -> float:
            nonlocal decoys
            decoys += 1
            return decoy_wait_s()

        guard.decoy_wait_s = counted_decoy_wait_s  # type: ignore[method-assign]

        async def query(device_id: str, dt: int, **extra: str) -> httpx.Response:
            params = {"id": device_id, "lat": "50.3", "lon": "11.9", "timestamp": str(t + dt)}
            return await client.get("/osmand", params=params | extra)

        async def as_json(device_id: str, dt: int) -> httpx.Response:
            at = datetime.fromtimestamp(t + dt, UTC).isoformat()
            fix = {"timestamp": at, "coords": {"latitude": 50.3, "longitude": 11.9}}
            return await client.post("/osmand", json={"device_id": device_id, "location": fix})

        known, unknown = await query("known-1", 0), await query("unknown-1", 0)
        known_json, unknown_json = await as_json("known-1", 10), await as_json("unknown-1", 10)
        # A fix the rules refuse: the answer must not tell a known device by its refusal.
        future = str(t + 86_400)
        refused = await query("known-1", 0, timestamp=future)
        refused_unknown = await query("unknown-1", 0, timestamp=future)
        # A teleport is judged against the known driver's own last fix.
        jumped = await query("known-1", 20, lat="10.0")
        jumped_unknown = await query("unknown-1", 20, lat="10.0")
        form = await client.post(
            "/osmand",
            content=f"id=unknown-2&lat=50.3&lon=11.9&timestamp={t}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert known.status_code == known_json.status_code == 200
    assert shape(known) == shape(unknown)
    assert shape(known_json) == shape(unknown_json)
    assert shape(refused) == shape(refused_unknown) == shape(known)
    assert shape(jumped) == shape(jumped_unknown) == shape(known)
    assert shape(form) == shape(known)
    assert decoys == 5  # every unknown id's answer waited, no known one's
    assert await positions(db) == 2  # the known device's two plausible fixes, nothing else


async def test_osmand_failed_lookups_are_throttled_per_address(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(
        settings, device_lookup_failure_burst=3, device_lookup_failures_per_min=0.5
    )
    t = int((now() - timedelta(minutes=5)).timestamp())
    async with run_server(settings) as server, server.http() as client:
        await server.create_driver(device_id="known-2")

        async def query(device_id: str, dt: int) -> httpx.Response:
            return await client.get(
                "/osmand",
                params={"id": device_id, "lat": "50.3", "lon": "11.9", "timestamp": t + dt},
            )

        # Known devices spend nothing: more of them than the burst all go through.
        known = [await query("known-2", i) for i in range(5)]
        probes = [await query(f"guess-{i}", 0) for i in range(3)]
        limited_unknown = await query("guess-9", 0)
        limited_known = await query("known-2", 10)
    assert [r.status_code for r in known + probes] == [200] * 8
    assert limited_unknown.status_code == 429
    assert int(limited_unknown.headers["retry-after"]) >= 1
    assert shape(limited_known) == shape(limited_unknown)
    assert await positions(db) == 5


async def test_concurrent_probes_cannot_outrun_the_budget(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """Each look-up holds a token while in flight: a volley of probes sent at once gets no
    more answers than the burst."""
    settings = dataclasses.replace(
        settings, device_lookup_failure_burst=3, device_lookup_failures_per_min=0.5
    )
    async with run_server(settings) as server, server.http() as client:
        answers = await asyncio.gather(
            *(
                client.get("/osmand", params={"id": f"guess-{i}", "lat": "50.3", "lon": "11.9"})
                for i in range(8)
            )
        )
    assert sorted(r.status_code for r in answers) == [200] * 3 + [429] * 5
    assert await positions(db) == 0


def test_unknown_devices_wait_as_long_as_known_ones_recently_did(settings: Settings) -> None:
    guard = DeviceGuard(settings)
    assert guard.decoy_wait_s() == settings.batch_max_wait_ms / 1000.0  # nothing measured yet
    guard.answered(0.123)
    assert guard.decoy_wait_s() == 0.123


async def test_generated_device_ids(settings: Settings, db: asyncpg.Connection) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    t = int((now() - timedelta(minutes=1)).timestamp())
    async with run_server(settings) as server, server.http() as client:
        made = [
            await client.post(
                "/api/drivers", json={"name": n, "device_id": "generate"}, headers=admin
            )
            for n in ("Ana", "Bob")
        ]
        device_ids = [m.json()["device_id"] for m in made]
        stored = await client.get(
            "/osmand", params={"id": device_ids[0], "lat": "50.3", "lon": "11.9", "timestamp": t}
        )
    assert [m.status_code for m in made] == [201, 201]
    assert all(re.fullmatch(r"[a-z2-7]{26}", d) for d in device_ids)  # 128 random bits
    assert device_ids[0] != device_ids[1]
    assert stored.status_code == 200
    driver_id = made[0].json()["id"]
    assert await db.fetchval("SELECT count(*) FROM positions WHERE driver_id = $1", driver_id) == 1


async def test_cli_generates_device_ids(database_url: str, db: asyncpg.Connection) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "server.cli", "drivers", "create", "--name", "Cli", "--device-id", "generate"),
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    device_id = json.loads(out)["device_id"]
    assert re.fullmatch(r"[a-z2-7]{26}", device_id)
    assert await db.fetchval("SELECT count(*) FROM drivers WHERE device_id = $1", device_id) == 1
