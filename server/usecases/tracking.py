"""The public tracking lookup, shared by `GET /api/track/{code}` and `WS /ws/track/{code}`:
rate-limited per client, and blind to the difference between unknown and expired codes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

import asyncpg

from server.base.batched_reads import BatchedReads, pooled
from server.base.ratelimit import RateLimiter
from server.base.settings import Settings
from server.domain import codes
from server.store import order_reads
from server.store import orders as store
from server.usecases.order_views import link_expires_at


class TrackingServices(Protocol):
    """What the lookup uses of the running app (server/edges/services.py)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def track_limiter(self) -> RateLimiter: ...
    @property
    def tracked(self) -> TrackedReads: ...


class TrackedReads:
    """Customers' reads, batched (server/base/batched_reads.py): orders by tracking code,
    and what a snapshot needs. A read starts after the call, so a snapshot taken after
    subscribing misses nothing."""

    def __init__(self, pool: asyncpg.Pool, db_timeout_s: float) -> None:
        self._by_code: BatchedReads[str, store.Order | None] = BatchedReads(
            pooled(pool, db_timeout_s), order_reads.orders_by_codes, None
        )
        self._tracked: BatchedReads[int, order_reads.TrackedOrder | None] = BatchedReads(
            pooled(pool, db_timeout_s), order_reads.tracked_orders, None
        )

    async def by_code(self, code: str) -> store.Order | None:
        return await self._by_code.of(code)

    async def order(self, order_id: int) -> order_reads.TrackedOrder | None:
        """The order, its timeline and whether a proof photo is stored, read now."""
        return await self._tracked.of(order_id)


async def lookup_tracked(
    services: TrackingServices, client: str, raw_code: str
) -> tuple[store.Order | None, float]:
    """The order behind a tracking code if it may still be seen, and the client's wait.

    Unknown and expired codes look the same; every lookup spends the client's budget.
    """
    retry_after_s = services.track_limiter.retry_after_s(client)
    if retry_after_s > 0:
        return None, retry_after_s
    code = codes.normalise(raw_code)
    if code is None:
        return None, 0.0
    order = await services.tracked.by_code(code)
    if order is None:
        return None, 0.0
    expires_at = link_expires_at(order, services.settings)
    if expires_at is not None and expires_at <= datetime.now(UTC):
        return None, 0.0
    return order, 0.0
