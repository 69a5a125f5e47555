"""Fixtures for server tests that receive what the server sends: a real SMTP server and a
real HTTP receiver (SMS provider, webhooks) on ephemeral ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.server.receivers import HttpReceiver, MailBox, http_receiver, smtp_server


@pytest.fixture
async def mailbox() -> AsyncIterator[MailBox]:
    async with smtp_server() as box:
        yield box


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    async with http_receiver() as r:
        yield r
