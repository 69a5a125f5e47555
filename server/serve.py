"""Running the app under uvicorn, shared by `tracker serve` and the tests."""

from __future__ import annotations

import socket

from server.app import create_app
from server.base import redact
from server.base.networks import parse_networks
from server.base.settings import Settings
from server.edges.net.connections import Connections
from server.edges.net.http_protocol import GatedHttp, ServerConfig
from server.edges.net.ws_direct import DirectSocket


def uvicorn_config(
    settings: Settings, *, fd: int | None = None, log_level: str = "info"
) -> ServerConfig:
    """uvicorn with our protocols: `GatedHttp` (connection limits, head deadline) and
    `DirectSocket` (the WebSocket hot path), sharing one `Connections` registry."""
    # Only the configured proxies' X-Forwarded-For is believed (uvicorn's own default trusts
    # 127.0.0.1, and its FORWARDED_ALLOW_IPS variable is not read: the setting is the one
    # place). Anyone else could name any address and so escape every per-client limit.
    trusted_proxies = [str(network) for network in parse_networks(settings.trusted_proxies)]
    redact.install()  # uvicorn logs WebSocket handshakes' URLs, tokens and codes included
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
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=trusted_proxies,
        timeout_graceful_shutdown=10,
    )


def bind_error(host: str, port: int) -> OSError | None:
    """What would stop uvicorn listening on host:port, found before start-up waits for the
    database: a taken port then fails at once, named. Binds as asyncio's create_server does
    (every address the host resolves to, SO_REUSEADDR, IPv6 only on IPv6), then lets go."""
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError as exc:
        return exc
    for family, kind, proto, _, address in set(addresses):
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                return exc
    return None
