"""ETA models learned from the stored history, stored, and picked up by the server."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from server.base.settings import Settings
from server.store import eta_models
from server.usecases.learning import learn_and_store
from tests.server.courier import Courier, fix, now
from tests.server.harness import run_server
from tests.server.waiting import eventually

TRIPS = 12


async def drive_history(server_ws_url: str, token: str) -> None:
    """Twelve trips east along a street, at 10 m/s, each followed by a half-hour break."""
    start = now() - timedelta(days=1)
    async with Courier(server_ws_url, token) as courier:
        seq = 0
        for trip in range(TRIPS):
            t0 = start + timedelta(minutes=40 * trip)
            batch = [
                fix(
                    seq + i,
                    t0 + timedelta(seconds=5 * i),
                    11.90 + i * 50 / 71_400,
                    50.30,
                    speed=10.0,
                )
                for i in range(30)
            ]
            seq += len(batch)
            await courier.send_batch(batch)
        await courier.wait_acked(range(seq))


async def test_history_splits_into_trips(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server:
        _, token = await server.create_driver()
        await drive_history(server.ws_url, token)
    trips = await eta_models.history_trips(db, now() - timedelta(days=2), 100_000)
    assert len(trips) == TRIPS and all(len(t) == 30 for t in trips.values())


async def test_learned_models_are_stored_and_used(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server:
        _, token = await server.create_driver()
        await drive_history(server.ws_url, token)
        outcome = await learn_and_store(server.services.pool, settings)
    assert outcome["learned"] is True and outcome["trips"] == TRIPS
    stored = await eta_models.latest(db)
    assert stored is not None and stored.fixes == TRIPS * 30
    assert stored.profile and stored.calibration
    assert "detour" in stored.profile  # the correction learned with it (identity when few trips)
    async with run_server(settings) as server:  # a new process picks them up
        etas = server.services.live.etas
        await eventually(lambda: etas.models.profile is not None, what="the models to load")
        assert etas.models.calibration is not None


async def test_too_little_history_learns_nothing(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server:
        outcome = await learn_and_store(server.services.pool, settings)
    assert outcome["learned"] is False
    assert await eta_models.latest(db) is None
