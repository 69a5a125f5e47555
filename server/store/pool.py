"""The asyncpg pool, owned by the app's lifespan; codecs and session set-up per connection.

No reset query on release. asyncpg's default sends `SELECT pg_advisory_unlock_all();
CLOSE ALL; UNLISTEN *; RESET ALL` each time a connection goes back: a round trip per
request, about a tenth of the server's CPU on the phone-app path. Nothing we do on a pooled
connection outlives its transaction, so there is nothing for it to undo:
- advisory locks: only transaction-scoped ones (`pg_advisory_xact_lock`); the session lock
  of the scheduled jobs' leader (locks.py) is held on a connection of its own (leader.py);
- LISTEN: only on the revocation listener's own connection (usecases/revocation.py);
- cursors: asyncpg opens them inside a transaction, without WITH HOLD: closed at its end;
- settings: only `SET LOCAL` (history.py), which ends with the transaction;
- the `fix_stage` temp table (init_connection) is meant to stay; it empties on commit.
A transaction left open is still rolled back on release (asyncpg does that whatever the
reset hook), and tests/server/test_pool_reset.py fails when session state appears in SQL.
"""

from __future__ import annotations

import asyncpg

from server.base.settings import Settings
from server.store import codecs, queries


async def init_connection(conn: asyncpg.Connection) -> None:
    await codecs.register(conn)
    await queries.create_staging_table(conn)


async def keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset hook: nothing to undo (see the module docs)."""


async def create_pool(settings: Settings, *, min_size: int = 1) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=min(min_size, settings.db_pool_size),
        max_size=settings.db_pool_size,
        command_timeout=settings.db_command_timeout_s,
        timeout=settings.db_command_timeout_s,
        init=init_connection,
        reset=keep_session,
    )
    assert pool is not None
    return pool
