"""The per-fix routes' direct lane (server/edges/net/http_direct.py): past Starlette's
stack, yet answered, counted and named as every other route is."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

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


async def test_the_usual_answers_are_whole_and_the_connection_kept(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """OsmAnd's and OwnTracks' usual 200s, written in one piece (http_direct.py), carry
    what every answer does, and the next request on the same connection is served."""
    async with run_server(settings) as server:
        await server.create_driver(device_id="ana")
        url = urlsplit(server.base_url)
        now = int(time.time())
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        try:
            answers = []
            for t, request_id in ((now - 60, "first-1"), (now - 55, "second-2")):
                writer.write(
                    f"POST /osmand?id=ana&timestamp={t}&lat=41.15&lon=-8.61 HTTP/1.1\r\n"
                    f"Host: x\r\nX-Request-ID: {request_id}\r\nContent-Length: 0\r\n\r\n".encode()
                )
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                answers.append(head.decode().lower())
            writer.write(b"POST /owntracks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n  ")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            body = await asyncio.wait_for(reader.readexactly(2), 30)
        finally:
            writer.close()
    for answer, request_id in zip(answers, ("first-1", "second-2"), strict=True):
        lines = answer.split("\r\n")
        assert lines[0] == "http/1.1 200 ok"
        assert "content-length: 0" in lines
        assert "content-type: text/plain; charset=utf-8" in lines
        assert "x-content-type-options: nosniff" in lines
        assert f"x-request-id: {request_id}" in lines
        assert any(line.startswith("date: ") for line in lines)  # uvicorn's own headers
        assert "connection: close" not in lines
    assert b"content-type: application/json" in head.lower() and body == b"[]"  # a blank body
    assert int(await db.fetchval("SELECT count(*) FROM positions")) == 2


async def test_a_one_piece_answer_closes_when_the_client_asked(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server:
        url = urlsplit(server.base_url)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        try:
            writer.write(
                b"POST /owntracks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                b"Content-Length: 0\r\n\r\n"
            )
            answer = await asyncio.wait_for(reader.read(), 30)  # to the end: it closes
        finally:
            writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nconnection: close" in head.lower()
    assert body == b"[]"
