"""Fixtures for server tests that receive what the server sends: a real SMTP server and a
real HTTP receiver (SMS provider, webhooks) on ephemeral ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from server.store import roads
from tests.server.receivers import HttpReceiver, MailBox, http_receiver, smtp_server
from tests.server.road_network import porto_network, remove_porto_network


@pytest.fixture
async def mailbox() -> AsyncIterator[MailBox]:
    async with smtp_server() as box:
        yield box


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    async with http_receiver() as r:
        yield r


@pytest.fixture(scope="session")
async def porto_roads(database_url: str) -> AsyncIterator[roads.Network]:
    """The Porto extract's car network, imported once per session (if the database does
    not hold it already, and then removed at the end: other tests route on no network);
    skipped when ../shared/data is absent."""
    network, imported = await porto_network(database_url)
    yield network
    if imported:
        await remove_porto_network(database_url)
