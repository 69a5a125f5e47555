"""Running the app under uvicorn, shared by `tracker serve` and the tests."""

from __future__ import annotations

import uvicorn

from server import redact
from server.app import create_app
from server.direct import DirectSocket
from server.settings import Settings


def uvicorn_config(
    settings: Settings, *, fd: int | None = None, log_level: str = "info"
) -> uvicorn.Config:
    redact.install()  # uvicorn logs WebSocket handshakes' URLs, tokens and codes included
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        fd=fd,
        loop="uvloop",
        http="httptools",
        ws=DirectSocket,
        ws_max_size=settings.max_frame_bytes,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_interval_s,
        ws_per_message_deflate=False,  # per-connection zlib state costs ~100 KiB per socket
        lifespan="on",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
