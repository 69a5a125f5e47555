"""Shared by the bad-input corpus and the fuzz suite: one real server per test module
(hostile input must not need a fresh one), and what every answer to bad input must be."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx

from server.store import codecs
from tests.conftest import ADMIN_TOKEN, empty_tables, server_settings
from tests.server.harness import RunningServer, run_server

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TABLES = (
    "drivers",
    "positions",
    "orders",
    "order_events",
    "api_keys",
    "webhook_subscriptions",
    "driver_messages",
    "order_issues",
    "order_ratings",
)  # not alerts: stored off the request path, after valid changes (usecases/alerts.py)


LOOPBACK = "127.0.0.1/32"  # webhooks in these tests point at a closed local port


@dataclass
class Shared:
    server: RunningServer
    db: asyncpg.Connection
    http: httpx.AsyncClient  # with the admin key

    async def counts(self) -> dict[str, int]:
        """Rows per table: what "nothing stored" is checked against."""
        return {t: await self.db.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}


@contextlib.asynccontextmanager
async def shared_server(database_url: str) -> AsyncIterator[Shared]:
    db = await asyncpg.connect(database_url)
    await codecs.register(db)
    await empty_tables(db)
    try:
        async with (
            run_server(
                dataclasses.replace(
                    server_settings(database_url),
                    webhook_allow_private=LOOPBACK,
                    # Every self-service request is a tracking lookup: not a 429 that answers
                    # before the body is read.
                    track_lookup_burst=1_000_000,
                )
            ) as server,
            httpx.AsyncClient(base_url=server.base_url, timeout=30.0, headers=ADMIN) as http,
        ):
            yield Shared(server, db, http)
    finally:
        await db.close()


def deep(depth: int, inner: str = "1") -> str:
    """JSON arrays nested `depth` deep."""
    return "[" * depth + inner + "]" * depth


def assert_client_error(response: httpx.Response, *statuses: int) -> str:
    """A 4xx (one of `statuses`, if given) with a JSON `{"error": …}` body; its text."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = json.loads(response.content)
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    return str(body["error"])
