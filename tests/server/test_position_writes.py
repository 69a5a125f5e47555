"""The writer's two ways of storing a batch (server/store/queries.py): one statement for
small batches, COPY through a staging table for large ones. Both must store the same rows,
skip the same re-sent fixes and move `driver_latest` only forward in time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from geo.model import Fix
from server.store import partitions, queries
from server.store.pool import init_connection
from tests.server.courier import now

Store = Callable[[asyncpg.Connection, Sequence[queries.PositionRecord]], Awaitable[int]]


async def copy_in_a_transaction(
    conn: asyncpg.Connection, records: Sequence[queries.PositionRecord]
) -> int:
    async with conn.transaction():
        return await queries.store_positions(conn, records)


WAYS: dict[str, Store] = {"copy": copy_in_a_transaction, "at_once": queries.store_positions_at_once}


def record(
    driver_id: int,
    at: datetime,
    lon: float,
    attributes: dict[str, Any] | None = None,
    **fields: Any,
) -> queries.PositionRecord:
    fix = Fix(recorded_at=at, lon=lon, lat=50.3, **fields)
    return queries.position_record(driver_id, fix, now(), attributes)


async def stored_rows(conn: asyncpg.Connection) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        """SELECT driver_id, recorded_at, geom, accuracy_m, speed_mps, heading_deg, altitude_m,
                  battery, attributes FROM positions ORDER BY driver_id, recorded_at"""
    )
    return [tuple(row) for row in rows]


async def latest_rows(conn: asyncpg.Connection) -> list[tuple[Any, ...]]:
    rows = await conn.fetch("SELECT driver_id, recorded_at, geom FROM driver_latest ORDER BY 1")
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("way", WAYS)
async def test_both_ways_store_the_same(way: str, db: asyncpg.Connection) -> None:
    await init_connection(db)  # the staging table, as the pool's connections have it
    drivers = [
        (
            await queries.create_driver(
                db, name=name, phone=None, vehicle=None, device_id=None, token_hash=name
            )
        ).id
        for name in ("Ana", "Bo")
    ]
    t0 = now() - timedelta(minutes=10)
    await partitions.ensure_days(db, {t0.date(), now().date()})
    store = WAYS[way]
    first = [
        record(drivers[0], t0, 11.90, {"src": "osmand"}, accuracy_m=5.0, speed_mps=3.5),
        record(drivers[0], t0 + timedelta(seconds=5), 11.91, heading_deg=90.0, battery=0.5),
        record(drivers[1], t0 + timedelta(seconds=1), 11.95, altitude_m=480.0),
    ]
    assert await store(db, first) == 3
    # A re-sent fix (stored once, not counted again), a late one (stored, but the latest
    # position stays), and a newer one for the other driver.
    second = [
        first[0],
        record(drivers[0], t0 + timedelta(seconds=2), 11.99),
        record(drivers[1], t0 + timedelta(seconds=9), 11.96),
    ]
    assert await store(db, second) == 2
    assert await store(db, []) == 0

    assert await stored_rows(db) == [
        (drivers[0], t0, (11.90, 50.3), 5.0, 3.5, None, None, None, {"src": "osmand"}),
        (drivers[0], t0 + timedelta(seconds=2), (11.99, 50.3), *[None] * 6),
        (drivers[0], t0 + timedelta(seconds=5), (11.91, 50.3), None, None, 90.0, None, 0.5, None),
        (
            drivers[1],
            t0 + timedelta(seconds=1),
            (11.95, 50.3),
            None,
            None,
            None,
            480.0,
            *[None] * 2,
        ),
        (drivers[1], t0 + timedelta(seconds=9), (11.96, 50.3), *[None] * 6),
    ]
    assert await latest_rows(db) == [
        (drivers[0], t0 + timedelta(seconds=5), (11.91, 50.3)),
        (drivers[1], t0 + timedelta(seconds=9), (11.96, 50.3)),
    ]


async def test_both_ways_store_awkward_values_alike(db: asyncpg.Connection) -> None:
    """One statement sends the batch as JSON, COPY in binary: the same values must come
    out, to the bit (reals cast from the same double, timestamps with their offset and
    microseconds, the point's full precision, attributes as given)."""
    await init_connection(db)
    at = datetime(2026, 3, 29, 1, 30, 0, 123457, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    await partitions.ensure_days(db, {at.date(), (at - timedelta(days=1)).date()})
    fields = [
        dict(accuracy_m=0.1, speed_mps=1e-7, heading_deg=359.99999, altitude_m=-12.5),
        dict(battery=1 / 3, accuracy_m=123456.789, speed_mps=0.0),
    ]
    attributes = [{"text": 'é "quoted" \\ \n✓', "nested": {"a": [1, 2.5, None]}}, None]
    stored = []
    for way in WAYS:
        driver = await queries.create_driver(
            db, name=way, phone=None, vehicle=None, device_id=None, token_hash=way
        )
        records = [
            record(driver.id, at + timedelta(seconds=i), 11.123456789012345 + i, attrs, **kw)
            for i, (kw, attrs) in enumerate(zip(fields, attributes, strict=True))
        ]
        assert await WAYS[way](db, records) == 2
        rows = await db.fetch(
            """SELECT recorded_at, geom, accuracy_m, speed_mps, heading_deg, altitude_m,
                      battery, attributes FROM positions WHERE driver_id = $1
               ORDER BY recorded_at""",
            driver.id,
        )
        stored.append([tuple(row) for row in rows])
    assert stored[0] == stored[1]
    assert stored[0][0][0] == at and stored[0][0][1] == (11.123456789012345, 50.3)
    assert stored[0][0][-1] == attributes[0]
