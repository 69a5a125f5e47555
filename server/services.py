"""What the app owns while it runs: built in the lifespan, reached via `app.state.services`."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from server.auth import hash_token, is_admin
from server.ingest.device_guard import DeviceGuard
from server.live.service import Live
from server.metrics import Metrics
from server.notify.notifier import Notifier
from server.pipeline import Pipeline
from server.ratelimit import RateLimiter
from server.revocation import OpenSockets
from server.settings import Settings
from server.store import credentials, queries
from server.store.writer import BatchWriter


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling the dispatcher API: `actor` goes into order timelines."""

    actor: str
    role: str  # "admin" or "dispatcher"
    key_id: int | None = None  # None: the bootstrap admin token (which cannot be revoked)


@dataclass(slots=True)
class Services:
    settings: Settings
    metrics: Metrics
    pool: asyncpg.Pool
    writer: BatchWriter
    pipeline: Pipeline
    live: Live
    track_limiter: RateLimiter
    notifier: Notifier
    devices: DeviceGuard  # phone-app device look-ups: throttled failures, uniform answers
    sockets: OpenSockets  # open sockets by credential, closed when it is revoked

    async def caller_for_key(self, key: str) -> Caller | None:
        """The admin (bootstrap token or admin key) or dispatcher behind an API key."""
        if is_admin(key, self.settings.admin_token):
            return Caller("admin", "admin")
        async with self.pool.acquire() as conn:
            found = await credentials.api_key_by_hash(conn, hash_token(key))
        return None if found is None else Caller(f"key:{found[1]}", found[2], found[0])

    async def driver_for_token(self, token: str) -> queries.Driver | None:
        async with self.pool.acquire() as conn:
            return await queries.driver_by_token_hash(conn, hash_token(token))
