"""Shared fixtures: a real, migrated PostGIS database and real servers on ephemeral ports."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

from server.base.settings import Settings
from server.store import codecs, migrate, roads

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/tracker_test"
)
ADMIN_TOKEN = "test-admin-token"


async def empty_tables(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "TRUNCATE drivers, positions, driver_latest, orders, order_events, api_keys,"
        " outbox, webhook_subscriptions, webhook_deliveries, eta_models, alerts, driver_messages,"
        " idempotency_keys, eta_accuracy, insight_rollups, insight_counts,"
        " insight_day_rollups, insight_day_counts,"
        " insight_cells, insight_dwells, insight_outcomes,"
        " insight_watermark"
        " RESTART IDENTITY CASCADE"
    )


@pytest.fixture(scope="session")
async def database_url() -> str:
    await migrate.prepare(TEST_DATABASE_URL)
    await migrate.upgrade_async(TEST_DATABASE_URL)
    return TEST_DATABASE_URL


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test database, emptied before each test."""
    conn = await asyncpg.connect(database_url)
    await codecs.register(conn)
    await empty_tables(conn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def settings(database_url: str, db: asyncpg.Connection) -> Settings:
    """Settings for a server under test (depends on `db` so tables start empty)."""
    return server_settings(database_url)


def server_settings(database_url: str) -> Settings:
    return Settings.from_env(
        {},
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        port=0,
        batch_max_wait_ms=10.0,
    )


@pytest.fixture(scope="session")
async def porto_roads(database_url: str) -> AsyncIterator[roads.Network]:
    """The Porto extract's car network, imported once per session (if the database does
    not hold it already, and then removed at the end: other tests route on no network);
    skipped when ../shared/data is absent."""
    from tests.server.road_network import porto_network, remove_porto_network

    network, imported = await porto_network(database_url)
    yield network
    if imported:
        await remove_porto_network(database_url)
