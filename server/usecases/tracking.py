"""The public tracking lookup, shared by `GET /api/track/{code}` and `WS /ws/track/{code}`:
rate-limited per client, and blind to the difference between unknown and expired codes."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Protocol

from asyncpg.pool import PoolConnectionProxy

from server.base.ratelimit import RateLimiter
from server.base.settings import Settings
from server.domain import codes
from server.store import orders as store
from server.usecases.order_views import link_expires_at


class TrackingServices(Protocol):
    """What the lookup uses of the running app (server/edges/services.py)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def track_limiter(self) -> RateLimiter: ...
    def db(self) -> AbstractAsyncContextManager[PoolConnectionProxy]: ...


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
    async with services.db() as conn:
        order = await store.order_by_code(conn, code)
    if order is None:
        return None, 0.0
    expires_at = link_expires_at(order, services.settings)
    if expires_at is not None and expires_at <= datetime.now(UTC):
        return None, 0.0
    return order, 0.0
