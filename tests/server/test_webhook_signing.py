"""Webhooks are signed per Standard Webhooks: a stock verifier (the `standardwebhooks`
library) accepts real deliveries, and retries of one delivery keep its webhook-id."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from server.base.settings import Settings
from server.usecases.notify.signing import (
    ID_HEADER,
    LEGACY_SIGNATURE_HEADER,
    LEGACY_TIMESTAMP_HEADER,
    sign_legacy,
)
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.receivers import HttpReceiver, http_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    async with http_receiver() as r:
        yield r


def hooking(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        notify_backoff_s=0.05,
        notify_poll_interval_s=0.05,
        webhook_allow_private="127.0.0.1/32",  # the receiver; webhooks reach public hosts only
    )


async def subscribe(dispatch: Dispatch, receiver: HttpReceiver, **spec: object) -> str:
    made = await dispatch.client.post(
        "/api/webhooks", json={"url": f"{receiver.base_url}/hook", "events": ["*"], **spec}
    )
    assert made.status_code == 201, made.text
    secret: str = made.json()["secret"]
    return secret


async def test_a_stock_verifier_accepts_deliveries_and_retries_keep_their_id(
    settings: Settings, db: asyncpg.Connection, receiver: HttpReceiver
) -> None:
    receiver.statuses = [500]  # the first delivery fails once, then is retried
    async with run_server(hooking(settings)) as server, Dispatch(server) as dispatch:
        secret = await subscribe(dispatch, receiver)
        await dispatch.order()
        await receiver.wait_for(lambda: len(receiver.at("/hook")) == 2, "a delivery and its retry")
    first, retry = receiver.at("/hook")
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    verifier = Webhook(secret)
    for hook in (first, retry):
        event = verifier.verify(hook.body, hook.headers)
        assert event["type"] == "order.confirmed" and event["id"] == hook.headers[ID_HEADER]
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + base64.b64encode(b"another key, not theirs").decode()).verify(
                hook.body, hook.headers
            )
        with pytest.raises(WebhookVerificationError):  # a tampered body
            verifier.verify(hook.body.replace(b"confirmed", b"cancelled"), hook.headers)
        # The deprecated header still verifies as before (key: the secret string's bytes).
        timestamp = int(hook.headers[LEGACY_TIMESTAMP_HEADER.lower()])
        assert hook.headers[LEGACY_SIGNATURE_HEADER.lower()] == sign_legacy(
            secret, timestamp, hook.body
        )
    assert first.headers[ID_HEADER] == retry.headers[ID_HEADER]  # receivers deduplicate on it
    assert json.loads(first.body) == json.loads(retry.body)


async def test_a_secret_chosen_by_the_subscriber_verifies_as_whsec_of_its_bytes(
    settings: Settings, db: asyncpg.Connection, receiver: HttpReceiver
) -> None:
    chosen = "correct horse battery staple"
    async with run_server(hooking(settings)) as server, Dispatch(server) as dispatch:
        assert await subscribe(dispatch, receiver, secret=chosen) == chosen
        await dispatch.order()
        await receiver.wait_for(lambda: len(receiver.at("/hook")) == 1, "a delivery")
    (hook,) = receiver.at("/hook")
    stock_secret = "whsec_" + base64.b64encode(chosen.encode()).decode()
    assert Webhook(stock_secret).verify(hook.body, hook.headers)["type"] == "order.confirmed"
    assert abs(int(hook.headers["webhook-timestamp"]) - time.time()) < 60
