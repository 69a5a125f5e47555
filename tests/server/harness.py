"""Test harness: run the real app under uvicorn on an ephemeral port, in-process."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import uvicorn
from starlette.applications import Starlette

from server.base.settings import Settings
from server.edges.services import Services
from server.serve import uvicorn_config
from tests.conftest import ADMIN_TOKEN

STARTUP_TIMEOUT_S = 30.0


@dataclass
class RunningServer:
    base_url: str
    ws_url: str
    app: Starlette

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=30.0)

    async def create_driver(self, name: str = "Ana", **fields: str) -> tuple[int, str]:
        async with self.http() as client:
            response = await client.post(
                "/api/drivers",
                json={"name": name, **fields},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        response.raise_for_status()
        body = response.json()
        return int(body["id"]), str(body["token"])


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@contextlib.asynccontextmanager
async def run_server(
    settings: Settings, log_level: str = "warning"
) -> AsyncIterator[RunningServer]:
    sock = listening_socket()
    port = sock.getsockname()[1]
    config = uvicorn_config(settings, log_level=log_level)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("server stopped during start-up")
                await asyncio.sleep(0.01)
        app = config.loaded_app
        while not isinstance(app, Starlette):
            app = app.app  # unwrap uvicorn's middleware
        yield RunningServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        await task
        sock.close()
