"""Webhooks reach public addresses only (unless TRACKER_WEBHOOK_ALLOW_PRIVATE says
otherwise): refused when subscribing, and again when sending, after resolving the name."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from server.base.settings import Settings, SettingsError
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.receivers import HttpReceiver, http_receiver

# URL -> what the refusal must call its address.
INSIDE = {
    "http://127.0.0.1:5432/": "127.0.0.1 is loopback",
    "http://localhost:6379/hook": "localhost resolves to 127.0.0.1, which is loopback",
    "http://[::1]/hook": "::1 is loopback",
    "http://[::ffff:127.0.0.1]/hook": "::ffff:127.0.0.1 is loopback",  # IPv4-mapped IPv6
    "http://[::ffff:10.1.2.3]/hook": "::ffff:10.1.2.3 is private",
    "http://2130706433/hook": "2130706433 resolves to 127.0.0.1",  # decimal
    "http://0x7f.1/hook": "0x7f.1 resolves to 127.0.0.1",  # hexadecimal, short form
    "http://0177.0.0.1/hook": "not a valid URL",  # octal: httpx refuses it outright
    "http://10.0.0.5/": "10.0.0.5 is private",
    "http://172.16.3.4/": "172.16.3.4 is private",
    "https://192.168.1.1/": "192.168.1.1 is private",
    "http://169.254.169.254/latest/meta-data/": "a cloud metadata address",
    "http://[fd00:ec2::254]/": "a cloud metadata address",
    "http://[fe80::1]/": "fe80::1 is link-local",
    "http://[fc00::5]/": "fc00::5 is private",
    "http://[fec0::1]/": "fec0::1 is site-local",  # deprecated, but routable nowhere public
    "http://0.0.0.0:8000/": "0.0.0.0 is unspecified",
    "http://224.0.0.1/": "224.0.0.1 is multicast",
    "http://100.64.0.1/": "100.64.0.1 is not globally routable",
    "http://[2002:7f00:1::]/": "6to4 for 127.0.0.1, loopback",
}


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    async with http_receiver() as r:
        yield r


def sending(settings: Settings, **changes: object) -> Settings:
    return dataclasses.replace(
        settings,
        notify_backoff_s=0.05,
        notify_poll_interval_s=0.05,
        **changes,  # type: ignore[arg-type]
    )


async def subscribe(dispatch: Dispatch, url: str) -> tuple[int, dict[str, Any]]:
    response = await dispatch.client.post("/api/webhooks", json={"url": url, "events": ["*"]})
    return response.status_code, response.json()


async def webhooks_done(db: asyncpg.Connection) -> list[asyncpg.Record]:
    """The webhook outbox rows, once none is still pending."""
    query = "SELECT status, last_error FROM outbox WHERE channel = 'webhook'"
    async with asyncio.timeout(30):
        # Database state has no event to wait on: poll it against the deadline.
        while True:
            rows = await db.fetch(query)
            if rows and all(r["status"] != "pending" for r in rows):
                return rows
            await asyncio.sleep(0.02)


async def test_subscriptions_to_inside_addresses_are_refused(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        answers = {url: await subscribe(dispatch, url) for url in INSIDE}
        public_status, _ = await subscribe(dispatch, "https://8.8.8.8/hook")
        listed = (await dispatch.client.get("/api/webhooks")).json()
    refused = {url: status for url, (status, _) in answers.items()}
    assert refused == dict.fromkeys(INSIDE, 422)
    for url, (_, body) in answers.items():
        assert INSIDE[url] in body["error"], (url, body)
    assert "TRACKER_WEBHOOK_ALLOW_PRIVATE" in answers["http://10.0.0.5/"][1]["error"]
    assert public_status == 201 and len(listed) == 1


async def test_the_allow_list_lets_listed_addresses_through_and_no_others(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, webhook_allow_private="127.0.0.1, 10.1.0.0/16")
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        statuses = {
            url: (await subscribe(dispatch, url))[0]
            for url in (
                "http://127.0.0.1:5432/",
                "http://localhost:9/",
                "http://[::ffff:127.0.0.1]/",
                "http://10.1.2.3/",
                "http://10.2.0.1/",
                "http://[::1]/",
                "http://169.254.169.254/",
            )
        }
    assert statuses == {
        "http://127.0.0.1:5432/": 201,
        "http://localhost:9/": 201,
        "http://[::ffff:127.0.0.1]/": 201,
        "http://10.1.2.3/": 201,
        "http://10.2.0.1/": 422,
        "http://[::1]/": 422,
        "http://169.254.169.254/": 422,
    }


async def test_a_destination_is_checked_again_when_sending(
    settings: Settings, db: asyncpg.Connection, receiver: HttpReceiver
) -> None:
    """Subscribed while loopback was allowed; sent by a server that allows it no longer (as
    if the name now resolved inside): the delivery fails, saying why, and nothing arrives."""
    url = receiver.base_url.replace("127.0.0.1", "localhost") + "/hook"
    allowing = sending(settings, webhook_allow_private="127.0.0.1/32")
    async with run_server(allowing) as server, Dispatch(server) as dispatch:
        status, made = await subscribe(dispatch, url)
    assert status == 201
    async with run_server(sending(settings)) as server, Dispatch(server) as dispatch:
        await dispatch.order()
        rows = await webhooks_done(db)
        log = (await dispatch.client.get(f"/api/webhooks/{made['id']}/deliveries")).json()
    assert [r["status"] for r in rows] == ["failed"]  # not retried: the rule will not change
    assert len(log) == 1 and log[0]["status_code"] is None
    assert log[0]["error"].startswith("refused: localhost resolves to 127.0.0.1, which is loopback")
    assert receiver.requests == []


async def test_redirects_are_not_followed(
    settings: Settings, db: asyncpg.Connection, receiver: HttpReceiver
) -> None:
    receiver.redirect_to = f"{receiver.base_url}/inside"
    settings = sending(settings, webhook_allow_private="127.0.0.1/32", notify_max_attempts=1)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        status, made = await subscribe(dispatch, f"{receiver.base_url}/hook")
        await dispatch.order()
        await webhooks_done(db)
        log = (await dispatch.client.get(f"/api/webhooks/{made['id']}/deliveries")).json()
    assert status == 201
    assert [d["status_code"] for d in log] == [307] and "answered 307" in log[0]["error"]
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_the_allow_list_must_be_addresses_or_networks() -> None:
    with pytest.raises(SettingsError, match="TRACKER_WEBHOOK_ALLOW_PRIVATE"):
        Settings.from_env({"TRACKER_WEBHOOK_ALLOW_PRIVATE": "localhost"})
    parsed = Settings.from_env({"TRACKER_WEBHOOK_ALLOW_PRIVATE": "127.0.0.1, 10.0.0.0/8"})
    assert parsed.webhook_allow_private == "127.0.0.1, 10.0.0.0/8"
