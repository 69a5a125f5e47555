"""Phone apps and HTTP ingest resolve known drivers from memory (usecases/driver_cache.py),
and a rotated token is refused at once on the process that rotated it and, as soon as the
revocation channel tells it, on every other one."""

from __future__ import annotations

import base64
import itertools
import time

import asyncpg
import httpx

from server.base.auth import hash_token
from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.harness import RunningServer, run_server
from tests.server.waiting import eventually

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NOTIFY_WAIT_S = 10.0
TIMES = itertools.count(int(time.time()) - 3600, 5)  # epoch s


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class Phone:
    """One driver's three HTTP paths, each fix at its own time (epoch s)."""

    def __init__(self, client: httpx.AsyncClient, device_id: str) -> None:
        self.client = client
        self.device_id = device_id

    def _next(self) -> int:
        return next(TIMES)  # distinct across phones: every fix is told apart in the table

    async def osmand(self) -> tuple[int, int]:
        t = self._next()
        query = {"id": self.device_id, "timestamp": str(t), "lat": "41.15", "lon": "-8.61"}
        answer = await self.client.post("/osmand", params=query)
        return answer.status_code, t

    async def owntracks(self, token: str) -> tuple[int, int]:
        t = self._next()
        answer = await self.client.post(
            "/owntracks",
            json={"_type": "location", "lat": 41.15, "lon": -8.61, "tst": t},
            headers=basic(self.device_id, token) | {"X-Limit-D": "phone"},
        )
        assert "x-tracker-rejected" not in answer.headers
        return answer.status_code, t

    async def ingest(self, token: str) -> tuple[int, int]:
        t = self._next()
        answer = await self.client.post(
            "/api/ingest",
            json={
                "type": "fixes",
                "fixes": [{"seq": 1, "t": t * 1000, "lat": 41.15, "lon": -8.61}],
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        return answer.status_code, t


async def listening(server: RunningServer) -> None:
    """Until its revocation listener is connected, a process keeps nothing in memory."""
    cache = server.services.drivers
    await eventually(lambda: cache.trusted, NOTIFY_WAIT_S, "the revocation listener")


async def stored_at(db: asyncpg.Connection, driver_id: int) -> set[int]:
    rows = await db.fetch(
        "SELECT extract(epoch FROM recorded_at)::bigint AS t FROM positions WHERE driver_id = $1",
        driver_id,
    )
    return {r["t"] for r in rows}


async def test_known_drivers_need_no_database_lookup(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """Once a device id and a token were looked up, their requests are served while the
    drivers table cannot be read at all; a token not looked up before is not."""
    async with run_server(settings) as server, server.http() as client:
        await listening(server)
        driver_id, token = await server.create_driver(device_id="ana")
        _, unseen_token = await server.create_driver("Bob")
        phone = Phone(client, "ana")
        warm = [await phone.osmand(), await phone.owntracks(token), await phone.ingest(token)]
        # No query on drivers succeeds from here on (the test's own connection renamed it).
        await db.execute("ALTER TABLE drivers RENAME TO drivers_hidden")
        try:
            cached = [await phone.osmand(), await phone.owntracks(token), await phone.ingest(token)]
            unseen, _ = await Phone(client, "bob").ingest(unseen_token)
        finally:
            await db.execute("ALTER TABLE drivers_hidden RENAME TO drivers")
        hits = server.services.drivers.hits
    assert [status for status, _ in warm + cached] == [200] * 6
    assert unseen == 503  # the look-up did need the table: it is the cache that answered
    assert {t for _, t in warm + cached} <= await stored_at(db, driver_id)
    assert hits >= 3


async def osmand_device(server: RunningServer, device_id: str) -> int:
    async with server.http() as client:
        status, _ = await Phone(client, device_id).osmand()
    return status


async def test_rotation_is_heard_by_every_process(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """Two processes on one database, both holding the driver's token in memory: after a
    rotation on A the old token is refused by A at once and by B once it heard of it; the
    new one works on both, and so does the unchanged device id."""
    async with run_server(settings) as a, run_server(settings) as b:
        await listening(a)
        await listening(b)
        driver_id, old = await a.create_driver(device_id="ana")
        async with a.http() as on_a, b.http() as on_b:
            phone_a, phone_b = Phone(on_a, "ana"), Phone(on_b, "ana")
            assert (await phone_a.ingest(old))[0] == (await phone_b.ingest(old))[0] == 200
            assert (await phone_b.owntracks(old))[0] == 200
            assert b.services.drivers.peek("token", hash_token(old)) is not None
            assert len(b.services.logins) == 1  # kept decoded: only the driver cache refuses
            rotated = await on_a.post(f"/api/drivers/{driver_id}/token", headers=ADMIN)
            assert rotated.status_code == 200
            new = rotated.json()["token"]
            refused_on_a = await phone_a.ingest(old)  # the very next request, same process
            await eventually(
                lambda: b.services.drivers.peek("token", hash_token(old)) is None,
                NOTIFY_WAIT_S,
                "process B to forget the rotated token",
            )
            refused_on_b = [await phone_b.ingest(old), await phone_b.owntracks(old)]
            assert len(b.services.logins) == 0  # a login that found no driver is dropped
            accepted = [await phone_a.ingest(new), await phone_b.ingest(new)]
            accepted.append(await phone_b.owntracks(new))
        device_still_known = [await osmand_device(a, "ana"), await osmand_device(b, "ana")]
    assert refused_on_a[0] == 401
    assert [status for status, _ in refused_on_b] == [401, 401]
    assert [status for status, _ in accepted] == [200, 200, 200]
    assert device_still_known == [200, 200]
    stored = await stored_at(db, driver_id)
    assert {t for _, t in accepted} <= stored
    assert not {t for _, t in [*refused_on_b, refused_on_a]} & stored


async def test_changes_made_by_hand_are_heard(settings: Settings, db: asyncpg.Connection) -> None:
    """A device id changed or a driver deleted by plain SQL (an operator's, a future
    feature's) notifies the servers too (migration 0009): they forget what they held."""
    async with run_server(settings) as server, server.http() as client:
        await listening(server)
        cache = server.services.drivers
        ana_id, _ = await server.create_driver(device_id="ana")
        _, bob_token = await server.create_driver("Bob")
        assert (await Phone(client, "ana").osmand())[0] == 200
        no_fix = await client.post(  # looks the token up (kept), then refuses the body
            "/api/ingest", content=b"{", headers={"Authorization": f"Bearer {bob_token}"}
        )
        assert no_fix.status_code == 400 and cache.peek("token", hash_token(bob_token))
        await db.execute("UPDATE drivers SET device_id = 'ana-2' WHERE id = $1", ana_id)
        await db.execute("DELETE FROM drivers WHERE name = 'Bob'")
        await eventually(
            lambda: (
                cache.peek("device", "ana") is None
                and cache.peek("token", hash_token(bob_token)) is None
            ),
            NOTIFY_WAIT_S,
            "the server to forget the changed and the deleted driver",
        )
        _, old_id_at = await Phone(client, "ana").osmand()  # answered as known: stores nothing
        status, new_id_at = await Phone(client, "ana-2").osmand()
        deleted, _ = await Phone(client, "bob").ingest(bob_token)
    assert status == 200 and deleted == 401
    stored = await stored_at(db, ana_id)
    assert new_id_at in stored and old_id_at not in stored
