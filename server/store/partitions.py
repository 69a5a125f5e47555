"""Day partitions of `positions`: created ahead of time and on demand, dropped after retention.

Partitions are named `positions_pYYYYMMDD` and cover one UTC day. Creation and dropping
take a transaction-scoped advisory lock so several server processes never race.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

from server.store import Conn

_LOCK_KEY = 0x7472_6B70  # "trkp": serialises partition DDL across processes
_NAME = re.compile(r"^positions_p(\d{8})$")


def partition_name(day: date) -> str:
    return f"positions_p{day:%Y%m%d}"


async def existing_days(conn: Conn) -> set[date]:
    rows = await conn.fetch(
        """
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'positions'::regclass"""
    )
    days = set()
    for row in rows:
        match = _NAME.match(row["relname"])
        if match:
            days.add(date(int(match[1][:4]), int(match[1][4:6]), int(match[1][6:])))
    return days


async def ensure_days(conn: Conn, days: Iterable[date]) -> list[date]:
    """Create the partitions for `days` that do not exist yet; returns those created."""
    wanted = set(days)
    created: list[date] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        for day in sorted(wanted - await existing_days(conn)):
            await conn.execute(
                f"""
                CREATE TABLE {partition_name(day)} PARTITION OF positions
                FOR VALUES FROM ('{day.isoformat()} 00:00:00+00')
                TO ('{(day + timedelta(days=1)).isoformat()} 00:00:00+00')"""
            )
            created.append(day)
    return created


async def drop_before(conn: Conn, cutoff: date) -> list[date]:
    """Drop every partition whose whole day lies before `cutoff`; returns the dropped days."""
    dropped: list[date] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        for day in sorted(await existing_days(conn)):
            if day < cutoff:
                await conn.execute(f"DROP TABLE {partition_name(day)}")
                dropped.append(day)
    return dropped


async def maintain(
    conn: Conn, today: date, *, ahead_days: int, retention_days: int
) -> tuple[list[date], list[date]]:
    """Create today's and the next `ahead_days` partitions; drop those past retention."""
    created = await ensure_days(conn, (today + timedelta(days=n) for n in range(ahead_days + 1)))
    dropped = await drop_before(conn, today - timedelta(days=retention_days))
    return created, dropped
