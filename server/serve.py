"""Running the app under uvicorn, shared by `tracker serve` and the tests."""

from __future__ import annotations

from server.app import create_app
from server.connections import Connections
from server.direct import DirectSocket
from server.http_protocol import GatedHttp, ServerConfig
from server.settings import Settings


def uvicorn_config(
    settings: Settings, *, fd: int | None = None, log_level: str = "info"
) -> ServerConfig:
    """uvicorn with our protocols: `GatedHttp` (connection limits, head deadline) and
    `DirectSocket` (the WebSocket hot path), sharing one `Connections` registry."""
    connections = Connections.from_settings(settings)
    return ServerConfig(
        create_app(settings, connections),
        connections=connections,
        host=settings.host,
        port=settings.port,
        fd=fd,
        loop="uvloop",
        http=GatedHttp,
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
