"""The per-fix routes' direct lane (server/edges/net/http_direct.py): past Starlette's
stack, yet answered, counted and named as every other route is."""

from __future__ import annotations

import asyncpg
import pytest
from starlette.requests import Request
from starlette.responses import Response

from server.base.settings import Settings
from server.edges.phone_apps import routes as apps
from tests.server.harness import run_server
from tests.server.test_metrics_exposed import scrape, scraping


async def test_direct_routes_are_counted_by_template_and_other_methods_get_405(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(scraping(settings)) as server, server.http() as client:
        location = {"_type": "location", "lat": 41.15, "lon": -8.61, "tst": 1_700_000_000}
        unidentified = await client.post("/owntracks", json=location)  # no password
        assert unidentified.status_code == 401
        assert unidentified.headers["x-content-type-options"] == "nosniff"
        assert unidentified.headers["x-request-id"]  # HttpAccess's, as for any route
        wrong_method = await client.get("/owntracks")  # Starlette's answer, with Allow
        assert wrong_method.status_code == 405
        assert wrong_method.headers["allow"] == "POST"
        assert "error" in wrong_method.json()
        assert (await client.post("/api/ingest", content=b"[]")).status_code == 401
        metrics = await scrape(client)
    count = "tracker_http_request_duration_seconds_count"
    assert metrics.value(count, route="/owntracks", method="POST", status="4xx") == 1
    assert metrics.value(count, route="/owntracks", method="GET", status="4xx") == 1
    assert metrics.value(count, route="/api/ingest", method="POST", status="4xx") == 1


async def test_a_bug_in_a_direct_route_is_a_json_500(
    settings: Settings, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("a bug")

    monkeypatch.setattr(apps, "owntracks", broken)
    async with run_server(settings) as server, server.http() as client:
        answer = await client.post("/owntracks", content=b"{}")
        assert answer.status_code == 500
        assert answer.json() == {"error": "internal error"}
        assert (await client.get("/livez")).status_code == 200  # the server carries on
