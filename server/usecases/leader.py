"""Which process runs the cluster's scheduled jobs (partition maintenance, and any later
periodic job): the one holding a PostgreSQL advisory lock on a dedicated connection.

Every process asks before each run; the first to ask takes the lock and keeps it while its
connection lives. If that process stops or loses the database, PostgreSQL releases the
lock with the session and the next process to ask takes over. Work that several processes
share safely (notifications: leased rows, `FOR UPDATE SKIP LOCKED`) does not need this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from server.base.settings import Settings
from server.store import locks

log = logging.getLogger("tracker.leader")


class Leadership:
    def __init__(self, settings: Settings, key: int = locks.SCHEDULED_JOBS) -> None:
        self._url = settings.database_url
        self._timeout_s = settings.db_command_timeout_s
        self._key = key
        self._conn: asyncpg.Connection | None = None
        self.held = False
        # Several jobs ask at once (at start-up): one session, one check at a time.
        self._asking = asyncio.Lock()

    async def holds(self) -> bool:
        """Whether this process leads now: checks the session, and tries to take the lock."""
        async with self._asking:
            return await self._check()

    async def _check(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout_s):
                if self._conn is None or self._conn.is_closed():
                    self.held = False
                    self._conn = await asyncpg.connect(self._url)
                if self.held:
                    await locks.alive(self._conn)
                else:
                    self.held = await locks.try_lock(self._conn, self._key)
                    if self.held:
                        log.info("this process now runs the scheduled jobs")
        except Exception as exc:  # database away: lead nothing until it is back
            log.warning("scheduled-jobs lock unavailable: %r", exc)
            await self.close()
        return self.held

    async def close(self) -> None:
        """Let go (closing the session releases the lock)."""
        self.held = False
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), self._timeout_s)
            if not conn.is_closed():
                conn.terminate()
