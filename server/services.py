"""What the app owns while it runs: built in the lifespan, reached via `app.state.services`."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from server.auth import hash_token
from server.metrics import Metrics
from server.pipeline import Pipeline
from server.settings import Settings
from server.store import queries
from server.store.writer import BatchWriter


@dataclass(slots=True)
class Services:
    settings: Settings
    metrics: Metrics
    pool: asyncpg.Pool
    writer: BatchWriter
    pipeline: Pipeline

    async def driver_for_token(self, token: str) -> queries.Driver | None:
        async with self.pool.acquire() as conn:
            return await queries.driver_by_token_hash(conn, hash_token(token))
