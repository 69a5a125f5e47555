"""Pooled connections go back without asyncpg's reset query (server/store/pool.py), and that
is safe: nothing our SQL does on them outlives its transaction, and a transaction left open
is still rolled back."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import asyncpg

from server.base.settings import Settings
from server.store.pool import create_pool

SERVER = Path(__file__).resolve().parents[2] / "server"


async def last_query(db: asyncpg.Connection, pid: int) -> str:
    """What the backend `pid` ran last, as PostgreSQL reports it to other sessions."""
    return str(await db.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid))


async def test_release_sends_nothing(settings: Settings, db: asyncpg.Connection) -> None:
    pool = await create_pool(dataclasses.replace(settings, db_pool_size=1))
    try:
        async with pool.acquire() as conn:
            pid = conn.get_server_pid()
            await conn.fetchval("SELECT 'the last thing this session ran'")
        # Released: with asyncpg's default, the backend would have run the reset query.
        assert await last_query(db, pid) == "SELECT 'the last thing this session ran'"
    finally:
        await pool.close()


async def test_no_session_state_survives_a_release(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """What our SQL does on pooled connections (SET LOCAL, transaction-scoped advisory
    locks, cursors), and a transaction left open by mistake: the next borrower of the same
    session sees none of it."""
    pool = await create_pool(dataclasses.replace(settings, db_pool_size=1))
    try:
        async with pool.acquire() as conn:
            pid = conn.get_server_pid()
            default_timeout = await conn.fetchval("SHOW statement_timeout")
            async with conn.transaction():
                await conn.execute("SET LOCAL statement_timeout = '1234ms'")
                await conn.execute("SELECT pg_advisory_xact_lock(424242)")
                cursor = await conn.cursor("SELECT generate_series(1, 10)")
                assert len(await cursor.fetch(2)) == 2  # open, not exhausted
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")  # never committed: asyncpg rolls it back on release
            await conn.execute("SET LOCAL work_mem = '7MB'")
            await conn.execute("SELECT pg_advisory_xact_lock(434343)")
        async with pool.acquire() as conn:
            assert conn.get_server_pid() == pid  # the same session, borrowed again
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SHOW statement_timeout") == default_timeout
            assert await conn.fetchval("SHOW work_mem") != "7MB"
            cursors = await conn.fetchval(
                "SELECT count(*) FROM pg_cursors WHERE name <> ''"
            )  # not itself
            locks = await db.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1", pid
            )
        assert cursors == 0 and locks == 0
    finally:
        await pool.close()


# SQL that leaves state on a session, and the only modules allowed it (each on a connection
# of its own, never one from the pool).
SESSION_STATE = {
    r"pg_(try_)?advisory_lock(_shared)?\(": {"store/locks.py"},
    r"\bLISTEN\b|add_listener\(": {"usecases/revocation.py"},
    r"WITH HOLD|\bPREPARE\s+\w+\s+AS\b|set_config\(": set(),
    r"[\"']\s*SET\s+(?!LOCAL\b)(SESSION\s+)?\w+\s*(=|TO\b)": set(),
    r"\block(s)?\.try_lock\(": {"usecases/leader.py"},
}


def test_session_state_only_where_a_connection_is_its_own() -> None:
    found: dict[str, set[str]] = {pattern: set() for pattern in SESSION_STATE}
    for path in SERVER.rglob("*.py"):
        text = path.read_text()
        for pattern in SESSION_STATE:
            if re.search(pattern, text):
                found[pattern].add(path.relative_to(SERVER).as_posix())
    found = {p: {m for m in mods if m != "store/pool.py"} for p, mods in found.items()}
    assert found == SESSION_STATE, (
        "SQL that leaves state on a session: the pool no longer resets connections "
        "(server/store/pool.py); keep it on a connection of its own, or restore the reset"
    )
