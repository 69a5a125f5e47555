"""Per-client limits count the real client: X-Forwarded-For is believed only from a proxy
in TRACKER_TRUSTED_PROXIES, and a proxy that overwrites it gives each client its own budget."""

from __future__ import annotations

import dataclasses

import asyncpg
import httpx
import pytest

from server.base.settings import Settings, SettingsError
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.http_proxy import ForwardingProxy
from tests.server.watcher import Watcher

PROXY_ADDRESS = "127.0.0.2"  # the proxy connects from here; clients from 127.0.0.3 and .4
BURST = 3


def limited(settings: Settings, **changes: object) -> Settings:
    return dataclasses.replace(
        settings,
        track_lookup_burst=BURST,
        track_lookups_per_min=1.0,
        **changes,  # type: ignore[arg-type]
    )


def client_from(address: str, base_url: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30.0)


async def lookups(client: httpx.AsyncClient, first: int, count: int) -> list[int]:
    """Status codes of `count` lookups, each claiming a different address of its own."""
    statuses = []
    for i in range(first, first + count):
        response = await client.get(
            f"/api/track/{i:04d}-0000-0000-0000", headers={"X-Forwarded-For": f"203.0.113.{i}"}
        )
        statuses.append(response.status_code)
    return statuses


async def test_a_client_cannot_name_its_own_address_without_a_trusted_proxy(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(limited(settings)) as server, server.http() as client:
        statuses = await lookups(client, 1, BURST + 1)
        watcher = Watcher(f"{server.ws_url}/ws/track/0000-0000-0000-0000")
        await watcher.connect(additional_headers={"X-Forwarded-For": "198.51.100.7"})
        socket_close = await watcher.wait_closed()
    assert statuses == [404] * BURST + [429]
    assert socket_close == 4429  # the socket counts against the same, real, address


async def test_through_a_trusted_proxy_each_client_has_its_own_budget(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = limited(settings, trusted_proxies=f"{PROXY_ADDRESS}/32")
    async with (
        run_server(settings) as server,
        Dispatch(server) as dispatch,
        ForwardingProxy(int(server.base_url.rpartition(":")[2]), PROXY_ADDRESS) as proxy,
        client_from("127.0.0.3", proxy.base_url) as first,
        client_from("127.0.0.4", proxy.base_url) as second,
    ):
        order = await dispatch.order()
        # Spoofed headers are overwritten by the proxy: the budget is 127.0.0.3's.
        first_statuses = await lookups(first, 1, BURST + 1)
        # The other client's own budget, untouched (not the proxy's, shared by all).
        found = await second.get(f"/api/track/{order['tracking_code']}")
        # The proxy's headers count only when the proxy sent them: direct, it is 127.0.0.1.
        async with server.http() as direct:
            direct_statuses = await lookups(direct, 10, BURST + 1)
    assert first_statuses == [404] * BURST + [429]
    assert found.status_code == 200
    assert direct_statuses == [404] * BURST + [429]


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(SettingsError, match="TRACKER_TRUSTED_PROXIES"):
        Settings.from_env({"TRACKER_TRUSTED_PROXIES": "nginx"})
    with pytest.raises(SettingsError, match="TRACKER_TRUSTED_PROXIES"):
        Settings.from_env({"TRACKER_TRUSTED_PROXIES": "10.0.0.5/8"})  # host bits: a typo?
    parsed = Settings.from_env({"TRACKER_TRUSTED_PROXIES": "10.0.0.5, 172.30.0.0/16, ::1"})
    assert parsed.trusted_proxies == "10.0.0.5, 172.30.0.0/16, ::1"
