"""Does the database answer? One round trip, for the readiness probe and for keeping an
idle listening connection known to be alive."""

from __future__ import annotations

from server.store import Conn


async def ping(conn: Conn, timeout_s: float | None = None) -> None:
    """Return once the database has answered; raise (asyncpg's or TimeoutError) if not."""
    await conn.fetchval("SELECT 1", timeout=timeout_s)
