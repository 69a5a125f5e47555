"""What the app owns while it runs: built in the lifespan, reached via `app.state.services`."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from server.base.auth import hash_token, is_admin
from server.base.dbguard import bounded_connection
from server.base.metrics import Metrics
from server.base.ratelimit import RateLimiter
from server.base.settings import Settings
from server.edges.phone_apps.basic_logins import BasicLogins
from server.edges.phone_apps.device_guard import DeviceGuard
from server.live.state import Live
from server.store import credentials, queries
from server.store.writer import BatchWriter
from server.usecases.alerts import Alerts
from server.usecases.driver_cache import DriverCache
from server.usecases.ingest import Pipeline
from server.usecases.messages import RecentMessages
from server.usecases.notify.notifier import Notifier
from server.usecases.revocation import OpenSockets
from server.usecases.routing import Routing
from server.usecases.slow_cells import UsualPaces
from server.usecases.tracking import TrackedReads


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling the dispatcher API: `actor` goes into order timelines."""

    actor: str
    role: str  # "admin", "dispatcher" or "support" (guards.ROLES)
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
    alerts: Alerts  # dispatchers' stored alerts: raised, acknowledged
    recent_messages: RecentMessages  # couriers' recent messages, read in batches on connect
    tracked: TrackedReads  # customers' orders by code and snapshots, read in batches
    # Drivers by device id and token hash, kept in memory while changes can be heard.
    drivers: DriverCache
    # Proof uploads decoding at once (TRACKER_PROOF_CONCURRENCY; app.py sizes it).
    proof_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    # OwnTracks' Basic-auth logins that found their driver, decoded and hashed once.
    logins: BasicLogins = field(default_factory=BasicLogins)
    routing: Routing | None = None  # legs on the road network, run order (usecases/routing.py)
    # The learned profile's cells, for the slow bottleneck layer (usecases/slow_cells.py).
    usual_paces: UsualPaces = field(default_factory=UsualPaces)

    def db(self) -> AbstractAsyncContextManager[PoolConnectionProxy]:
        """A connection for a request's or socket's database work, the only way they get
        one: bounded by `db_request_timeout_s`, after which DatabaseUnavailable (503, or a
        1013 close) says to try again later instead of the client waiting on an outage."""
        return bounded_connection(self.pool, self.settings.db_request_timeout_s)

    async def caller_for_key(self, key: str) -> Caller | None:
        """The admin (bootstrap token or admin key), dispatcher or support behind an API key."""
        if is_admin(key, self.settings.admin_token):
            return Caller("admin", "admin")
        async with self.db() as conn:
            found = await credentials.api_key_by_hash(conn, hash_token(key))
        return None if found is None else Caller(f"key:{found[1]}", found[2], found[0])

    async def driver_for_token(self, token: str) -> queries.Driver | None:
        return await self.drivers.by_token_hash(hash_token(token))
