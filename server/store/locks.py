"""Cluster-wide locks: PostgreSQL advisory locks, held by a session."""

from __future__ import annotations

from server.store import Conn, health

SCHEDULED_JOBS = 0x7472_6B6A  # "trkj": the process that runs the cluster's scheduled jobs


async def try_lock(conn: Conn, key: int) -> bool:
    """Take the session-level advisory lock `key` if nobody holds it; never waits."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))


async def alive(conn: Conn) -> None:
    """Raise if the session (and with it any lock it holds) is gone."""
    await health.ping(conn)
