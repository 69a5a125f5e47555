"""One bounded path to the database for requests and sockets.

A request must not wait on a database that stopped answering (a blackhole: packets
dropped, nothing refused) longer than a few seconds: `bounded_connection` gives the whole
use of one pooled connection (acquire, queries, release) a budget, and raises
`DatabaseUnavailable` when it runs out or the database fails; the edges turn that into
503 + Retry-After (HTTP, server/app.py) or a 1013 close (sockets,
server/edges/net/socket_dispatch.py).

Why a plain `asyncio.timeout` around `pool.acquire()` is not enough: cancelling a query
makes asyncpg send a cancel request over a new connection, and releasing that connection
to the pool (shielded from cancellation) waits for it, up to the command timeout: 2 s
became 12 s. Here a connection whose work was cut short is terminated, not released.

The batched writer and the background jobs keep their own retry logic: they ride out
outages instead of answering anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
from asyncpg.pool import PoolConnectionProxy

UNAVAILABLE = "database unavailable, retry later"
RETRY_AFTER_S = 5
RELEASE_TIMEOUT_S = 1.0
# SQLSTATE classes of an unusable database: connection exception, operator intervention
# (shutting down, starting up, statement cancelled); and too many connections.
_OUTAGE_CLASSES = ("08", "57")
_OUTAGE_STATES = ("53300",)


class DatabaseUnavailable(Exception):
    """The database did not answer within the budget, or is down: try again later."""


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says the database is unreachable or unusable (not what a query did)."""
    if isinstance(exc, asyncpg.PostgresError):
        state = exc.sqlstate or ""
        return state[:2] in _OUTAGE_CLASSES or state in _OUTAGE_STATES
    return isinstance(exc, (OSError, TimeoutError, asyncpg.InterfaceError))


@contextlib.asynccontextmanager
async def bounded_connection(
    pool: asyncpg.Pool, budget_s: float
) -> AsyncIterator[PoolConnectionProxy]:
    """A pooled connection for one piece of request work: acquiring it and the body's
    queries get `budget_s` in all, giving it back at most RELEASE_TIMEOUT_S more.

    Raises DatabaseUnavailable when the budget runs out or the database fails; any other
    exception from the body passes through unchanged.
    """
    conn: PoolConnectionProxy | None = None
    try:
        async with asyncio.timeout(budget_s):
            conn = await pool.acquire()
            try:
                yield conn
            except BaseException as exc:
                if not isinstance(exc, Exception) or is_outage(exc):
                    # Cut short mid-query (or broken): releasing would wait for asyncpg's
                    # cancel request to reach a database that does not answer.
                    conn.terminate()
                raise
    except Exception as exc:
        if is_outage(exc):
            raise DatabaseUnavailable(f"{UNAVAILABLE} ({type(exc).__name__})") from exc
        raise
    finally:
        if conn is not None:
            # Outside the budget: work that succeeded is not undone by a slow release. A
            # terminated connection goes back at once; a healthy one is reset, and a reset
            # that hangs terminates it (asyncpg's release timeout).
            with contextlib.suppress(Exception):
                await pool.release(conn, timeout=RELEASE_TIMEOUT_S)
