"""Rotation and revocation take effect at once, everywhere: a driver's new token closes the
old one's sockets (4401); a revoked API key (REST or `tracker keys revoke`) is refused by
REST and its fleet sockets are closed (4401), on every process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import asyncpg
import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.harness import run_server
from tests.server.processes import TEST_REDIS_URL, bus_prefix, require_redis, server_processes

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CLOSE_WAIT_S = 5.0


async def close_code(ws: ClientConnection, timeout_s: float = CLOSE_WAIT_S) -> int | None:
    """Read (and drop) messages until the server closes the socket; its close code."""
    async with asyncio.timeout(timeout_s):
        try:
            async for _ in ws:
                pass
        except websockets.ConnectionClosed:
            pass
    return ws.close_code


async def fleet_socket(ws_url: str, key: str, **kwargs: Any) -> ClientConnection:
    ws = await websockets.connect(f"{ws_url}/ws/fleet?token={key}", **kwargs)
    snapshot = json.loads(await ws.recv())
    assert snapshot["type"] == "snapshot"  # authorised and registered
    return ws


async def new_key(client: httpx.AsyncClient, name: str) -> tuple[int, str]:
    made = await client.post("/api/keys", json={"name": name, "role": "dispatcher"}, headers=ADMIN)
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"  # the key, shown once
    return int(made.json()["id"]), str(made.json()["key"])


async def test_rotating_a_token_closes_the_old_tokens_socket(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, server.http() as client:
        driver_id, old_token = await server.create_driver()
        _, other_token = await server.create_driver("Bob")
        async with (
            Courier(server.ws_url, old_token) as courier,
            Courier(server.ws_url, other_token) as bystander,
        ):
            await courier.send(fix(1, now(), 11.9, 50.3))
            await courier.wait_acked([1])
            await bystander.send(fix(1, now(), 11.9, 50.3))
            await bystander.wait_acked([1])
            rotated = await client.post(f"/api/drivers/{driver_id}/token", headers=ADMIN)
            assert rotated.status_code == 200
            assert await courier.wait_closed(CLOSE_WAIT_S) == 4401
            async with Courier(server.ws_url, rotated.json()["token"]) as renewed:
                await renewed.send(fix(2, now(), 11.9, 50.3))
                await renewed.wait_acked([2])
            await bystander.send(fix(2, now(), 11.9, 50.3))
            await bystander.wait_acked([2])  # another driver's socket stays open
            assert bystander.close_code is None
        async with Courier(server.ws_url, old_token) as stale:
            assert await stale.wait_closed(CLOSE_WAIT_S) == 4401


async def test_keys_listed_and_revoked_over_rest(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, server.http() as client:
        key_id, key = await new_key(client, "desk")
        kept_id, kept = await new_key(client, "other desk")
        bearer = {"Authorization": f"Bearer {key}"}
        listed = await client.get("/api/keys", headers=ADMIN)
        dispatcher_lists = await client.get("/api/keys", headers=bearer)
        dispatcher_revokes = await client.delete(f"/api/keys/{kept_id}", headers=bearer)
        before = await client.get("/api/fleet", headers=bearer)
        revoked_socket = await fleet_socket(server.ws_url, key)
        kept_socket = await fleet_socket(server.ws_url, kept)
        # By subprotocol rather than query string (test_log_redaction.py): the same key.
        by_subprotocol = await websockets.connect(
            f"{server.ws_url}/ws/fleet",
            subprotocols=[Subprotocol("tracker"), Subprotocol(f"tracker.token.{key}")],
        )
        assert json.loads(await by_subprotocol.recv())["type"] == "snapshot"
        revoke = await client.delete(f"/api/keys/{key_id}", headers=ADMIN)
        codes = await asyncio.gather(close_code(revoked_socket), close_code(by_subprotocol))
        after = await client.get("/api/fleet", headers=bearer)
        again = await client.delete(f"/api/keys/{key_id}", headers=ADMIN)
        missing = await client.delete("/api/keys/999999", headers=ADMIN)
        listed_after = await client.get("/api/keys", headers=ADMIN)
        kept_after = await client.get("/api/fleet", headers={"Authorization": f"Bearer {kept}"})
        assert kept_socket.close_code is None
        await kept_socket.close()
        async with websockets.connect(f"{server.ws_url}/ws/fleet?token={key}") as refused:
            assert await close_code(refused) == 4401
    assert listed.status_code == 200
    keys = listed.json()["keys"]
    assert [(k["id"], k["name"], k["role"], k["revoked_at"]) for k in keys] == [
        (key_id, "desk", "dispatcher", None),
        (kept_id, "other desk", "dispatcher", None),
    ]
    assert set(keys[0]) == {"id", "name", "role", "created_at", "revoked_at"}  # never the key
    assert dispatcher_lists.status_code == dispatcher_revokes.status_code == 403
    assert before.status_code == 200 and revoke.status_code == 204
    assert list(codes) == [4401, 4401]
    assert after.status_code == 401 and kept_after.status_code == 200
    assert again.status_code == 204 and missing.status_code == 404
    revoked_at = {k["id"]: k["revoked_at"] for k in listed_after.json()["keys"]}
    assert revoked_at[key_id] is not None and revoked_at[kept_id] is None


async def tracker_cli(database_url: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "server.cli", *args),
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_keys_revoked_from_the_command_line(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, server.http() as client:
        key_id, key = await new_key(client, "night shift")
        socket = await fleet_socket(server.ws_url, key)
        code, listed, _ = await tracker_cli(settings.database_url, "keys", "list")
        assert code == 0
        [row] = [json.loads(line) for line in listed.splitlines()]
        assert row["id"] == key_id and row["revoked_at"] is None and key not in listed
        code, said, _ = await tracker_cli(settings.database_url, "keys", "revoke", str(key_id))
        assert code == 0 and "revoked" in said
        assert await close_code(socket) == 4401  # the running server heard of it at once
        refused = await client.get("/api/fleet", headers={"Authorization": f"Bearer {key}"})
        code, listed, _ = await tracker_cli(settings.database_url, "keys", "list")
        assert json.loads(listed)["revoked_at"] is not None
        missing, _, err = await tracker_cli(settings.database_url, "keys", "revoke", "999999")
    assert refused.status_code == 401
    assert missing != 0 and "no API key with id 999999" in err


async def test_revocations_reach_every_process(settings: Settings, db: asyncpg.Connection) -> None:
    await require_redis()
    env = {"TRACKER_BUS": TEST_REDIS_URL, "TRACKER_BUS_PREFIX": bus_prefix()}
    async with server_processes(settings, ["a", "b"], env) as (a, b):
        driver_id, token = await a.create_driver("Ana")
        async with a.http() as client:
            key_id, key = await new_key(client, "desk")
        async with Courier(b.ws_url, token) as courier:
            await courier.send(fix(1, now(), 11.9, 50.3))
            await courier.wait_acked([1])
            socket = await fleet_socket(b.ws_url, key)
            async with a.http() as client:
                rotated = await client.post(f"/api/drivers/{driver_id}/token")
                revoked = await client.delete(f"/api/keys/{key_id}")
            assert rotated.status_code == 200 and revoked.status_code == 204
            assert await courier.wait_closed(CLOSE_WAIT_S) == 4401
            assert await close_code(socket) == 4401
