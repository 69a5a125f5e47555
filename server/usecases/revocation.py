"""Revoked credentials close their sockets, on every process, within a moment.

REST requests check their credential each time; a socket checks it once, when it opens.
So each process keeps its open sockets by the credential that opened them (courier
sockets by driver and token hash, dispatcher sockets by API key id; the bootstrap admin
token cannot be revoked and is not kept), and listens on PostgreSQL's `REVOCATIONS`
channel (server/store/credentials.py): a revocation is committed together with its
notification, whether the REST API or `tracker keys revoke` made it, and whichever process
(or none) it came from. A notification only names what changed; the database says what
is still valid, and sockets whose credential is not are closed with 4401. While the
listening connection is down nothing is heard, so every (re)connection starts with a full
check of the sockets open here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Protocol

import asyncpg

from server.base.dbguard import bounded_connection
from server.base.settings import Settings
from server.store import Conn, credentials
from server.store import health as database
from server.usecases.driver_cache import DriverCache
from server.wire.close_codes import CLOSE_UNAUTHORIZED

log = logging.getLogger("tracker.revocation")

KEEPALIVE_S = 10.0  # a listening connection that died silently is noticed this soon
CHECK_TIMEOUT_S = 5.0  # a revocation check during an outage gives up; reconnecting checks all


class Closable(Protocol):
    def close_now(self, code: int, reason: str = "") -> None: ...


class OpenSockets:
    """This process's open sockets by credential. Entries are removed when the socket
    closes: a list per driver or key, a tuple per courier socket."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._drivers: dict[int, list[tuple[str, Closable]]] = {}
        self._keys: dict[int, list[Closable]] = {}
        self._checks: set[asyncio.Task[None]] = set()
        # Notifications heard so far: a socket whose credential was looked up before one
        # arrived, and registered after, is checked again (its revocation may have passed).
        self.heard = 0

    def add_driver(self, driver_id: int, token_hash: str, sock: Closable) -> None:
        self._drivers.setdefault(driver_id, []).append((token_hash, sock))

    def remove_driver(self, driver_id: int, sock: Closable) -> None:
        entries = self._drivers.get(driver_id, [])
        entries[:] = [e for e in entries if e[1] is not sock]
        if not entries:
            self._drivers.pop(driver_id, None)

    def add_key(self, key_id: int, sock: Closable) -> None:
        self._keys.setdefault(key_id, []).append(sock)

    def remove_key(self, key_id: int, sock: Closable) -> None:
        entries = self._keys.get(key_id, [])
        entries[:] = [s for s in entries if s is not sock]
        if not entries:
            self._keys.pop(key_id, None)

    def check_soon(self, driver_ids: Iterable[int] = (), key_ids: Iterable[int] = ()) -> None:
        task = asyncio.create_task(self._check(list(driver_ids), list(key_ids)))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _check(self, driver_ids: list[int], key_ids: list[int]) -> None:
        try:
            await self.check(driver_ids, key_ids)
        except Exception as exc:  # database away: the listener's reconnection checks all
            log.warning("could not check revoked credentials: %r", exc)

    async def check(self, driver_ids: Iterable[int], key_ids: Iterable[int]) -> None:
        """Close the sockets among these drivers' and keys' whose credential is no longer
        valid (a new token, a revoked key, a deleted row)."""
        drivers = [d for d in driver_ids if d in self._drivers]
        keys = [k for k in key_ids if k in self._keys]
        if not drivers and not keys:
            return
        async with bounded_connection(self._pool, CHECK_TIMEOUT_S) as conn:
            hashes = await credentials.token_hashes(conn, drivers) if drivers else {}
            live_keys = await credentials.live_key_ids(conn, keys) if keys else set()
        for driver_id in drivers:  # as registered now, not when the check began
            current = hashes.get(driver_id)
            for token_hash, sock in list(self._drivers.get(driver_id, ())):
                if token_hash != current:
                    sock.close_now(CLOSE_UNAUTHORIZED, "driver token replaced")
        for key_id in keys:
            if key_id not in live_keys:
                for sock in list(self._keys.get(key_id, ())):
                    sock.close_now(CLOSE_UNAUTHORIZED, "API key revoked")

    async def check_all(self) -> None:
        await self.check(list(self._drivers), list(self._keys))


class RevocationListener:
    """LISTENs on a dedicated connection (reconnecting with backoff) and has `sockets`
    check what each notification names."""

    def __init__(self, settings: Settings, sockets: OpenSockets, drivers: DriverCache) -> None:
        self._settings = settings
        self._sockets = sockets
        self._drivers = drivers  # told of changes

    def _on_notify(self, conn: Conn, pid: int, channel: str, payload: object) -> None:
        self._sockets.heard += 1
        kind, _, ident = str(payload).partition(":")
        if not ident.isdigit():
            return
        if kind == "driver":
            self._drivers.forget(int(ident))  # before the next request looks it up
            self._sockets.check_soon(driver_ids=[int(ident)])
        elif kind == "key":
            self._sockets.check_soon(key_ids=[int(ident)])

    async def run_forever(self) -> None:
        settings = self._settings
        delay_s = 0.1
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    settings.database_url, timeout=settings.db_command_timeout_s
                )
                await conn.add_listener(credentials.REVOCATIONS, self._on_notify)
                self._drivers.listening()
                self._sockets.heard += 1  # whatever was missed while not listening
                await self._sockets.check_all()
                delay_s = 0.1
                while True:
                    await asyncio.sleep(KEEPALIVE_S)
                    await database.ping(conn, settings.db_command_timeout_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("revocation listener lost the database (%r); reconnecting", exc)
            finally:
                self._drivers.deaf()  # from here on a change could go unheard
                if conn is not None:
                    conn.terminate()  # nothing to finish on a listening session; never waits
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, settings.db_retry_max_s)
