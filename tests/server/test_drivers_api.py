"""`/api/drivers`: admin-only; the token is shown once and works on the courier socket."""

from __future__ import annotations

import asyncpg

from server.base.auth import hash_token
from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.harness import run_server

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_create_list_get(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server, server.http() as client:
        created = await client.post(
            "/api/drivers",
            json={
                "name": "Ana",
                "phone": "+351912345678",
                "vehicle": "van 3",
                "device_id": "123456",
                "x": 1,
            },
            headers=ADMIN,
        )
        listed = await client.get("/api/drivers", headers=ADMIN)
        one = await client.get(f"/api/drivers/{created.json()['id']}", headers=ADMIN)
        missing = await client.get("/api/drivers/999999", headers=ADMIN)
        not_a_number = await client.get("/api/drivers/abc", headers=ADMIN)
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Ana" and body["device_id"] == "123456" and len(body["token"]) >= 32
    assert created.headers["cache-control"] == "no-store"  # the token, shown once, kept by none
    # Stored hashed, never in clear; never shown again.
    stored_hash = await db.fetchval("SELECT token_hash FROM drivers WHERE id = $1", body["id"])
    assert stored_hash == hash_token(body["token"]) and body["token"] not in stored_hash
    assert "token" not in listed.json()[0] and "token" not in one.json()
    assert [d["id"] for d in listed.json()] == [body["id"]]
    assert one.json()["vehicle"] == "van 3"
    assert missing.status_code == 404 and not_a_number.status_code == 404


async def test_dispatchers_never_read_device_ids(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """A device id is the OsmAnd app's only credential: a dispatcher key must not yield it."""
    async with run_server(settings) as server, server.http() as client:
        created = await client.post(
            "/api/drivers", json={"name": "Bo", "device_id": "generate"}, headers=ADMIN
        )
        key = await client.post(
            "/api/keys", json={"name": "desk", "role": "dispatcher"}, headers=ADMIN
        )
        dispatcher = {"Authorization": f"Bearer {key.json()['key']}"}
        listed = await client.get("/api/drivers", headers=dispatcher)
        one = await client.get(f"/api/drivers/{created.json()['id']}", headers=dispatcher)
        as_admin = await client.get(f"/api/drivers/{created.json()['id']}", headers=ADMIN)
    device_id = created.json()["device_id"]
    assert len(device_id) >= 26
    for answer in (listed, one):
        assert answer.status_code == 200 and device_id not in answer.text, answer.text
    assert one.json()["has_device_id"] is True and "device_id" not in one.json()
    assert as_admin.json()["device_id"] == device_id


async def test_rejections(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server, server.http() as client:
        no_key = await client.post("/api/drivers", json={"name": "A"})
        wrong_key = await client.post(
            "/api/drivers", json={"name": "A"}, headers={"Authorization": "Bearer x"}
        )
        _, driver_token = await server.create_driver(device_id="dev-1")
        driver_key = await client.post(
            "/api/drivers", json={"name": "A"}, headers={"Authorization": f"Bearer {driver_token}"}
        )
        made = await client.post(
            "/api/keys", json={"name": "desk", "role": "dispatcher"}, headers=ADMIN
        )
        dispatcher = {"Authorization": f"Bearer {made.json()['key']}"}
        dispatcher_creates = await client.post(
            "/api/drivers", json={"name": "A"}, headers=dispatcher
        )
        dispatcher_lists = await client.get("/api/drivers", headers=dispatcher)
        no_name = await client.post("/api/drivers", json={"phone": "1"}, headers=ADMIN)
        empty_name = await client.post("/api/drivers", json={"name": ""}, headers=ADMIN)
        long_name = await client.post("/api/drivers", json={"name": "x" * 201}, headers=ADMIN)
        not_json = await client.post("/api/drivers", content=b"name=A", headers=ADMIN)
        same_device = await client.post(
            "/api/drivers", json={"name": "B", "device_id": "dev-1"}, headers=ADMIN
        )
        list_no_key = await client.get("/api/drivers")
    assert no_key.status_code == 401
    # Unknown keys (a driver's token is no API key) are 401; a key without the role is 403.
    assert wrong_key.status_code == 401 and driver_key.status_code == 401
    assert dispatcher_creates.status_code == 403 and dispatcher_lists.status_code == 200
    assert no_name.status_code == 422 and "name" in no_name.json()["error"]
    assert empty_name.status_code == 422 and long_name.status_code == 422
    assert not_json.status_code == 422
    assert same_device.status_code == 409 and "dev-1" in same_device.json()["error"]
    assert list_no_key.status_code == 401
    assert await db.fetchval("SELECT count(*) FROM drivers") == 1
