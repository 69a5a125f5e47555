"""The per-fix routes served by the HTTP protocol itself (server/edges/net/http_lean.py):
plain requests take the lane, anything else is uvicorn's as before, and a connection's
answers keep their order whichever way each request went."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from server.base.settings import Settings
from server.edges.net import http_lean
from tests.conftest import ADMIN_TOKEN
from tests.server.harness import RunningServer, run_server

ANSWER_TIMEOUT_S = 30.0
DECLARED_ANSWER_TIMEOUT_S = 10.0  # a third of the body deadline (responses.BODY_TIMEOUT_S)


@pytest.fixture
def lane_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests the lane served (its `start`, wrapped)."""
    taken: list[str] = []
    start = http_lean.LeanLane.start

    def recording(self: http_lean.LeanLane, protocol: Any, cycle: http_lean.LeanCycle) -> None:
        taken.append(cycle.scope["path"])
        start(self, protocol, cycle)

    monkeypatch.setattr(http_lean.LeanLane, "start", recording)
    return taken


@pytest.fixture
async def server(settings: Settings, db: asyncpg.Connection) -> AsyncIterator[RunningServer]:
    """A real server with a driver whose phone app says `id=ana`."""
    async with run_server(settings) as running:
        await running.create_driver(device_id="ana")
        yield running


async def _exchange(
    server: RunningServer, data: bytes, answers: int, bodies: bool = True
) -> list[tuple[str, bytes]]:
    """Write `data` at once on one connection; the heads (lower case) and bodies of the
    first `answers` responses, in the order they came (no bodies: answers to HEAD)."""
    url = urlsplit(server.base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(data)
        got = []
        for _ in range(answers):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), ANSWER_TIMEOUT_S)
            text = head.decode("latin-1").lower()
            length = 0 if bodies else -1
            for line in text.split("\r\n"):
                if line.startswith("content-length:") and bodies:
                    length = int(line.split(":", 1)[1])
            body = await asyncio.wait_for(reader.readexactly(max(0, length)), ANSWER_TIMEOUT_S)
            got.append((text, body))
        return got
    finally:
        writer.close()


def _osmand(device: str, t_s: int, extra: str = "", version: str = "1.1") -> bytes:
    return (
        f"POST /osmand?id={device}&timestamp={t_s}&lat=41.15&lon=-8.61 HTTP/{version}\r\n"
        f"Host: x\r\n{extra}Content-Length: 0\r\n\r\n"
    ).encode()


async def test_plain_requests_take_the_lane_and_the_rest_are_answered_as_before(
    server: RunningServer, db: asyncpg.Connection, lane_paths: list[str]
) -> None:
    now = int(time.time())
    plain = await _exchange(server, _osmand("ana", now - 60, "X-Request-ID: lean-1\r\n"), 1)
    assert lane_paths == ["/osmand"]
    head, body = plain[0]
    assert head.startswith("http/1.1 200 ok\r\n")
    assert "\r\nx-request-id: lean-1\r\n" in head
    assert "\r\nx-content-type-options: nosniff\r\n" in head
    assert "\r\ndate: " in head and "\r\nserver: " in head  # uvicorn's defaults
    assert body == b""
    stored = await db.fetchval("SELECT count(*) FROM positions")
    assert stored == 1  # answered after the commit, as through uvicorn

    others = (
        # HEAD: an answer without its body, uvicorn's to write
        b"HEAD /osmand?id=ana&timestamp=%d&lat=41.15&lon=-8.61 HTTP/1.1\r\nHost: x\r\n\r\n"
        % (now - 40),
        # a chunked body
        b"POST /owntracks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n  \r\n0\r\n\r\n",
        # a client waiting to be told to send its body
        b"POST /owntracks HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Content-Length: 2\r\n\r\n  ",
        # an encoded path (uvicorn decodes it: the route's all the same)
        b"POST /owntr%61cks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n  ",
    )
    for request in others:
        answers = await _exchange(server, request, 1, bodies=not request.startswith(b"HEAD"))
        assert answers[0][0].split("\r\n")[0] in ("http/1.1 200 ok", "http/1.1 100 continue")
    big = b"x" * (http_lean.LEAN_MAX_BODY_BYTES + 1)
    too_big = await _exchange(
        server,
        b"POST /owntracks HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(big), big),
        1,
    )
    assert too_big[0][0].startswith("http/1.1 413 ")  # the route's own limit, said by it
    assert lane_paths == ["/osmand"]  # none of the others went the lane's way


async def test_answers_keep_their_order_behind_a_request_waiting_for_its_commit(
    server: RunningServer, lane_paths: list[str]
) -> None:
    """Three requests in one write: a fix (the lane's, answered once committed), a health
    probe (uvicorn's, answered at once if it were not queued) and an OwnTracks ping. They
    are answered in the order asked."""
    now = int(time.time())
    answers = await _exchange(
        server,
        _osmand("ana", now - 60, "X-Request-ID: one\r\n")
        + b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Request-ID: two\r\n\r\n"
        + b"POST /owntracks HTTP/1.1\r\nHost: x\r\nX-Request-ID: three\r\n"
        b"Content-Length: 2\r\n\r\n  ",
        3,
    )
    ids = [line.split(": ", 1)[1] for head, _ in answers for line in head.split("\r\n")
           if line.startswith("x-request-id:")]  # fmt: skip
    assert ids == ["one", "two", "three"]
    assert [head.split("\r\n")[0] for head, _ in answers] == ["http/1.1 200 ok"] * 3
    assert answers[2][1] == b"[]"
    # The ping came while the fix was unanswered: queued by uvicorn, so served by it.
    assert lane_paths == ["/osmand"]


async def test_http_1_0_is_answered_and_closed(
    server: RunningServer, lane_paths: list[str]
) -> None:
    now = int(time.time())
    url = urlsplit(server.base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(_osmand("ana", now - 60, version="1.0"))
        answer = await asyncio.wait_for(reader.read(), ANSWER_TIMEOUT_S)  # to its end
    finally:
        writer.close()
    head = answer.partition(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 200 ok\r\n")
    assert b"\r\nconnection: close" in head
    assert lane_paths == ["/osmand"]


async def test_a_client_gone_before_its_answer_still_has_its_fix_stored(
    server: RunningServer, db: asyncpg.Connection, lane_paths: list[str]
) -> None:
    """Hanging up while the fix is being committed changes nothing for the fix, and the
    server goes on serving (nothing is written to the closed connection)."""
    now = int(time.time())
    url = urlsplit(server.base_url)
    _, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(_osmand("ana", now - 60))
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    async with asyncio.timeout(ANSWER_TIMEOUT_S):
        # The database has no event to wait on: polled against the deadline.
        while not await db.fetchval("SELECT count(*) FROM positions"):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    answers = await _exchange(server, _osmand("ana", now - 50), 1)
    assert answers[0][0].startswith("http/1.1 200 ok")
    assert lane_paths == ["/osmand", "/osmand"]
    assert await db.fetchval("SELECT count(*) FROM positions") == 2


async def test_hostile_heads_and_bodies_are_refused_and_store_nothing(
    server: RunningServer, db: asyncpg.Connection, lane_paths: list[str]
) -> None:
    """What the lane judges itself (its Content-Length) it leaves to uvicorn and httptools
    when odd; what it takes but the route refuses is refused as through uvicorn."""
    now = int(time.time())
    query = f"/osmand?id=ana&timestamp={now - 30}&lat=41.15&lon=-8.61"
    for length in ("0\r\nContent-Length: 0", "abc", "-1", "+5"):
        head = f"POST {query} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
        url = urlsplit(server.base_url)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        try:
            writer.write(head.encode())
            answer = await asyncio.wait_for(reader.read(4096), ANSWER_TIMEOUT_S)
        finally:
            writer.close()
        assert answer.lower().startswith(b"http/1.1 400 "), (length, answer[:80])
    assert lane_paths == []  # none of them went the lane's way
    refused = (
        # An unknown device: answered as a stored fix is (device ids stay unknown), unstored.
        (_osmand("nobody", now - 20), "http/1.1 200 "),
        (
            b"POST /api/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
            b"Content-Length: 2\r\n\r\n{}",
            "http/1.1 401 ",
        ),
        (  # not JSON (judged before the credentials, of which there are none)
            b"POST /owntracks HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{nope",
            "http/1.1 400 ",
        ),
        (  # not a fix at all, from a known device
            b"POST /osmand?id=ana&timestamp=x&lat=91&lon=nan HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 0\r\n\r\n",
            "http/1.1 400 ",
        ),
    )
    for request, status in refused:
        answers = await _exchange(server, request, 1)
        assert answers[0][0].startswith(status), (request[:40], answers[0][0][:40])
    assert len(lane_paths) == len(refused)  # these the lane served, and refused
    assert await db.fetchval("SELECT count(*) FROM positions") == 0


async def test_a_body_declared_too_large_is_refused_at_once_without_waiting_for_it(
    server: RunningServer, db: asyncpg.Connection, lane_paths: list[str]
) -> None:
    """A head declaring megabytes and then sending none of them is answered 413 from the
    head, on the per-fix routes (past the lane's size, so through uvicorn) and a JSON API
    route alike: before, it held its connection to the body's 30 s deadline (then 408)."""
    now = int(time.time())
    declared = 10_000_000
    _, token = await server.create_driver(name="Bo")
    heads = (
        f"POST /osmand?id=ana&timestamp={now - 30}&lat=41.15&lon=-8.61 HTTP/1.1\r\n",
        "POST /owntracks HTTP/1.1\r\nAuthorization: Basic YW5hOng=\r\n",
        f"POST /api/ingest HTTP/1.1\r\nAuthorization: Bearer {token}\r\n",
        f"POST /api/drivers HTTP/1.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n",
    )
    url = urlsplit(server.base_url)
    for head in heads:
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        try:
            writer.write(f"{head}Host: x\r\nContent-Length: {declared}\r\n\r\n".encode())
            # Well inside the 30 s deadline: what comes must come from the head alone.
            answer = await asyncio.wait_for(reader.read(4096), DECLARED_ANSWER_TIMEOUT_S)
        finally:
            writer.close()
        assert answer.lower().startswith(b"http/1.1 413 "), (head[:30], answer[:80])
        assert b"body over" in answer
    assert lane_paths == []  # over the lane's size: uvicorn's way
    assert await db.fetchval("SELECT count(*) FROM positions") == 0
    assert await db.fetchval("SELECT count(*) FROM drivers") == 2  # ana and Bo only
