"""Several real server processes sharing the test database and a Redis bus, for the
scale-out tests: each is `python -m server.cli serve --fd N` on its own port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO

import httpx
import pytest
import redis.asyncio as redis
from redis.exceptions import RedisError

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.harness import listening_socket
from tests.server.tcp_proxy import TcpProxy

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


async def require_redis(url: str = TEST_REDIS_URL) -> None:
    """Skip (saying why) when no Redis answers at TEST_REDIS_URL."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        pytest.skip(f"no Redis at {url} ({exc!r}): start redis-server or set TEST_REDIS_URL")
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def redis_proxy(url: str = TEST_REDIS_URL) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A proxy in front of the test Redis that a test can cut and restore, and the bus URL
    that goes through it."""
    host, _, rest = url.removeprefix("redis://").partition(":")
    port, _, database = rest.partition("/")
    proxy = TcpProxy(host, int(port))
    await proxy.start()
    try:
        yield proxy, f"redis://127.0.0.1:{proxy.port}/{database or 0}"
    finally:
        await proxy.stop()


def bus_prefix() -> str:
    """Channels of one test run: tests sharing a Redis never hear each other."""
    return f"test-{secrets.token_hex(4)}:"


@dataclass
class ServerProcess:
    name: str
    process: asyncio.subprocess.Process
    sock: socket.socket

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            timeout=30.0,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )

    async def create_driver(self, name: str) -> tuple[int, str]:
        async with self.http() as client:
            response = await client.post("/api/drivers", json={"name": name})
        response.raise_for_status()
        return int(response.json()["id"]), str(response.json()["token"])


async def _wait_healthy(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as client:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while True:
                assert server.process.returncode is None, f"{server.name} exited at start-up"
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def server_processes(
    settings: Settings,
    names: list[str],
    env: dict[str, str],
    log_level: str = "warning",
    stderr: IO[bytes] | None = None,
) -> AsyncIterator[list[ServerProcess]]:
    """Start one server process per name with `env` added; stop them all (SIGTERM) after.
    Their log lines go to `stderr` (default: the test's)."""
    servers: list[ServerProcess] = []
    base_env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "TRACKER_ADMIN_TOKEN": ADMIN_TOKEN,
        "TRACKER_BATCH_MAX_WAIT_MS": "10",
        **env,
    }
    try:
        for name in names:
            sock = listening_socket()
            fd = sock.fileno()
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "server.cli", "serve", "--fd", str(fd), "--log-level", log_level),
                env=base_env,
                pass_fds=(fd,),
                stderr=stderr,
            )
            servers.append(ServerProcess(name, process, sock))
        await asyncio.gather(*(_wait_healthy(s) for s in servers))
        yield servers
    finally:
        for server in servers:
            if server.process.returncode is None:
                server.process.terminate()
        async with asyncio.timeout(STOP_TIMEOUT_S):
            for server in servers:
                await server.process.wait()
                server.sock.close()
