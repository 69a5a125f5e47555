"""Migrations are idempotent and produce exactly the tables declared in schema.py."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from server.store import migrate
from server.store.tables import metadata

PARTITION = re.compile(r"^positions_p\d{8}$")
ROAD_NETWORK = re.compile(
    r"^roads_[a-z]+_\d+_(edges|vertices|turns)$"
)  # per import: store/roads.py
NOT_OURS = {"spatial_ref_sys", "alembic_version"}


def _include(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    if kind == "table" and name is not None:
        return name not in NOT_OURS and not PARTITION.match(name) and not ROAD_NETWORK.match(name)
    return True


async def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    await migrate.upgrade_async(database_url)
    await migrate.upgrade_async(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == "0021"
    finally:
        await conn.close()


async def test_migrated_database_matches_declared_schema(database_url: str) -> None:
    engine = create_async_engine("postgresql+asyncpg://" + database_url.split("://", 1)[1])

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"include_object": _include, "compare_type": True}
        )
        return list(compare_metadata(context, metadata))

    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []


async def test_positions_is_partitioned_by_day_without_gist(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        strategy = await conn.fetchval(
            "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'positions'::regclass"
        )
        methods = await conn.fetch(
            """SELECT am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = 'positions'::regclass"""
        )
    finally:
        await conn.close()
    assert strategy == b"r"  # range
    assert sorted(r["amname"] for r in methods) == ["brin", "btree"]
