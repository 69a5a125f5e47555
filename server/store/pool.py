"""The asyncpg pool, owned by the app's lifespan; codecs and session set-up per connection."""

from __future__ import annotations

import asyncpg

from server.base.settings import Settings
from server.store import codecs, queries


async def init_connection(conn: asyncpg.Connection) -> None:
    await codecs.register(conn)
    await queries.create_staging_table(conn)


async def create_pool(settings: Settings, *, min_size: int = 1) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=min(min_size, settings.db_pool_size),
        max_size=settings.db_pool_size,
        command_timeout=settings.db_command_timeout_s,
        timeout=settings.db_command_timeout_s,
        init=init_connection,
    )
    assert pool is not None
    return pool
