"""The server under test: a seeded scratch database, and server processes on it that the
bench starts, watches and stops."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import httpx
import psutil

from server.base.auth import hash_token, new_token
from server.domain.codes import new_code
from server.store import bench as bench_sql
from server.store import codecs

HOF = (11.90, 50.30)  # where the seeded fleet drives (Hof, Bavaria)


@dataclass
class Fleet:
    tokens: list[str]
    codes: list[str]
    driver_ids: list[int]
    starts: list[list[float]]

    def device_id(self, i: int) -> str:
        """Courier i's phone-app device id (OsmAnd `id`, OwnTracks user)."""
        return bench_sql.device_id(self.driver_ids[i])


def _start(i: int) -> list[float]:
    return [HOF[0] + (i % 100) * 0.01, HOF[1] + (i // 100) * 0.005]


async def seed(database_url: str, couriers: int) -> Fleet:
    """Drivers with one order each, out for delivery on a straight 2 km route (via SQL,
    before the server starts: it loads the runs at start-up)."""
    tokens = [new_token() for _ in range(couriers)]
    codes = [new_code() for _ in range(couriers)]
    starts = [_start(i) for i in range(couriers)]
    routes: list[dict[str, object]] = [
        {"type": "LineString", "coordinates": [s, [s[0] + 2_000 / 71_400, s[1]]]} for s in starts
    ]
    destinations = [(s[0] + 2_000 / 71_400, s[1]) for s in starts]
    conn = await asyncpg.connect(database_url)
    try:
        await codecs.register(conn)
        await bench_sql.reset(conn)
        await bench_sql.seed_runs(
            conn, [hash_token(t) for t in tokens], codes, destinations, routes, datetime.now(UTC)
        )
    finally:
        await conn.close()
    return Fleet(tokens, codes, list(range(1, couriers + 1)), starts)


async def start_server(
    database_url: str,
    admin_token: str,
    bus: str = "memory",
    bus_prefix: str = "tracker:",
    env: dict[str, str] | None = None,
) -> tuple[asyncio.subprocess.Process, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    env = {
        **os.environ,
        **(env or {}),
        "DATABASE_URL": database_url,
        "TRACKER_ADMIN_TOKEN": admin_token,
        "TRACKER_TRACK_LOOKUP_BURST": "1000000",
        "TRACKER_TRACK_LOOKUPS_PER_MIN": "1000000",
        "TRACKER_SUBSCRIBER_MAX_PENDING": "4096",
        "TRACKER_MAX_CONNECTIONS_PER_ADDRESS": "1000000",  # all the load comes from 127.0.0.1
        # A phone-app request holds a failed-look-up token while its device is looked up
        # (device_guard.py): a whole fleet behind one address starting at once would spend them.
        "TRACKER_DEVICE_LOOKUP_FAILURE_BURST": "1000000",
        "TRACKER_BUS": bus,
        "TRACKER_BUS_PREFIX": bus_prefix,
    }
    command = ["-m", "server.cli", "serve", "--fd", str(sock.fileno()), "--log-level", "warning"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, *command, env=env, pass_fds=(sock.fileno(),)
    )
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()  # the server holds its own copy
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
            if process.returncode is not None:
                break
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


def rss_mib(proc: psutil.Process) -> float:
    rss: int = proc.memory_info().rss
    return rss / 2**20


async def verify(database_url: str, acked: dict[int, set[int]]) -> int:
    """How many acked fixes are missing from the database (must be 0)."""
    conn = await asyncpg.connect(database_url)
    try:
        stored = await bench_sql.stored_times(conn, list(acked))
    finally:
        await conn.close()
    return sum(len(times - stored.get(driver, set())) for driver, times in acked.items())
