"""Property-based fuzzing of the REST and socket edges of a real server: whatever arrives,
the answer is the documented error, never a 500, never an aborted connection, and nothing
is stored for what was refused. The server properties share one real server for the
module and keep to a modest number of examples each (the decoders alone:
tests/server/test_fuzz_decoders.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ADMIN_TOKEN
from tests.server.courier import fix, now
from tests.server.fuzz_inputs import (
    frames,
    hostile_text,
    json_values,
    osmand_bodies,
    raw_bodies,
)
from tests.server.hostile import Shared, assert_client_error, shared_server

SERVER = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# -- a real server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def shared(database_url: str) -> AsyncIterator[Shared]:
    async with shared_server(database_url) as shared:
        yield shared


REST_BODIES = {
    "/api/drivers": {"name": "Ana"},
    "/api/orders": {
        "customer": {"name": "C"},
        "destination": {"lat": 41.1, "lon": -8.6},
        "delivery_pin": False,
    },
    "/api/orders/{order}/status": {"status": "processing"},
    "/api/orders/{order}/assign": {"driver_id": 1},
    "/api/keys": {"name": "k"},
    "/api/webhooks": {"url": "http://127.0.0.1:9/h", "events": ["*"]},
    "/api/drivers/{driver}/messages": {"text": "Gate code 4711"},
    # The customer's self-service: no credential but the tracking code.
    "/api/track/{code}/instructions": {"text": "Ring twice"},
    "/api/track/{code}/issues": {"reason": "other", "text": "Box wet"},
    "/api/track/{code}/rating": {"score": 5, "comment": "Quick"},
    "/api/track/{code}/reattempt": {"note": "After 6 pm"},
}


@st.composite
def rest_requests(draw: st.DrawFn) -> tuple[str, bytes]:
    """A route, and raw junk or its own valid body with one field, anywhere, replaced by
    anything (so the route's validation of that field is what answers)."""
    path = draw(st.sampled_from(sorted(REST_BODIES)))
    if draw(st.booleans()):
        return path, draw(raw_bodies)
    body = json.loads(json.dumps(REST_BODIES[path]))
    target = body
    while isinstance(target.get(key := draw(st.sampled_from(sorted(target)))), dict):
        target = target[key]
    target[draw(st.one_of(st.just(key), hostile_text))] = draw(json_values)
    return path, json.dumps(body).encode()


@SERVER
@given(request=rest_requests())
async def test_rest_bodies_never_500(shared: Shared, request: tuple[str, bytes]) -> None:
    path, body = request
    order = await shared.db.fetchval("SELECT max(id) FROM orders")
    if order is None:
        created = await shared.http.post("/api/orders", json=REST_BODIES["/api/orders"])
        order = created.json()["id"]
    driver = await shared.db.fetchval("SELECT max(id) FROM drivers")
    if driver is None:
        created = await shared.http.post("/api/drivers", json=REST_BODIES["/api/drivers"])
        driver = created.json()["id"]
    code = await shared.db.fetchval("SELECT tracking_code FROM orders WHERE id = $1", order)
    before = await shared.counts()
    answer = await shared.http.post(
        path.format(order=order, driver=driver, code=code), content=body
    )
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    if answer.status_code >= 400:
        assert_client_error(answer)
        after = await shared.counts()
        assert after == before, (answer.status_code, answer.text[:300])


COURIER_BODY = {"status": "failed", "reason": "other", "note": "n"}


@SERVER
@given(
    body=st.one_of(
        raw_bodies,
        st.builds(
            lambda key, value: json.dumps({**COURIER_BODY, key: value}).encode(),
            st.one_of(st.sampled_from(sorted(COURIER_BODY)), hostile_text),
            json_values,
        ),
    ),
    # What HTTP can carry in a header: printable ASCII, no surrounding space (h11 refuses it).
    key=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=250).filter(
        lambda k: k == k.strip()
    ),
)
async def test_courier_action_bodies_never_500(shared: Shared, body: bytes, key: str) -> None:
    """A courier's status change (driver token, Idempotency-Key): refused or done, never a
    500; a refusal stores nothing (an order on no run: every body is refused)."""
    order = await shared.db.fetchval("SELECT max(id) FROM orders")
    if order is None:
        created = await shared.http.post("/api/orders", json=REST_BODIES["/api/orders"])
        order = created.json()["id"]
    token = await _courier_token(shared)
    before = await shared.counts()
    answer = await shared.http.post(
        f"/api/orders/{order}/status",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )  # fmt: skip
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    assert_client_error(answer)
    assert await shared.counts() == before, (answer.status_code, answer.text[:300])


_courier_tokens: dict[int, str] = {}


async def _courier_token(shared: Shared) -> str:
    """The token of the driver "Fuzz actions", created once per server (no orders)."""
    if id(shared) not in _courier_tokens:
        _, _courier_tokens[id(shared)] = await shared.server.create_driver("Fuzz actions")
    return _courier_tokens[id(shared)]


@SERVER
@given(
    query=st.dictionaries(
        st.sampled_from(
            ["after", "driver_id", "limit", "status", "late", "q", "reference", "email", "phone"]
        ),
        hostile_text,
    )
)
async def test_order_list_query_never_500(shared: Shared, query: dict[str, str]) -> None:
    answer = await shared.http.get("/api/orders", params=query)
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    if answer.status_code >= 400:
        assert_client_error(answer, 422)


@SERVER
@given(query=st.dictionaries(st.sampled_from(["after", "limit", "open"]), hostile_text))
async def test_alert_list_query_never_500(shared: Shared, query: dict[str, str]) -> None:
    answer = await shared.http.get("/api/alerts", params=query)
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    if answer.status_code >= 400:
        assert_client_error(answer, 422)


_app_tokens: dict[int, str] = {}


async def _fuzz_app_token(shared: Shared) -> str:
    """The token of the phone-app driver "fuzz-app", created once per server."""
    if id(shared) not in _app_tokens:
        _, _app_tokens[id(shared)] = await shared.server.create_driver(
            "Fuzz app", device_id="fuzz-app"
        )
    return _app_tokens[id(shared)]


@SERVER
@given(body=st.one_of(raw_bodies, osmand_bodies), is_json=st.booleans(), app=st.booleans())
async def test_phone_app_bodies_never_500(
    shared: Shared, body: bytes, is_json: bool, app: bool
) -> None:
    headers = {"Content-Type": "application/json" if is_json else "text/plain"}
    answer = await shared.http.post(
        "/owntracks" if app else "/osmand",
        content=body,
        headers=headers,
        auth=("fuzz-app", await _fuzz_app_token(shared)),  # OwnTracks reads the body then
    )
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    if answer.status_code >= 400:
        assert_client_error(answer)


_proof_orders: dict[int, tuple[int, str]] = {}


async def _proof_order(shared: Shared) -> tuple[int, str]:
    """An order out for delivery on a driver's run, and the driver's token (once per server)."""
    if id(shared) not in _proof_orders:
        driver_id, token = await shared.server.create_driver("Fuzz proof")
        order = (await shared.http.post("/api/orders", json=REST_BODIES["/api/orders"])).json()
        await shared.http.post(f"/api/orders/{order['id']}/assign", json={"driver_id": driver_id})
        for status in ("shipped", "out_for_delivery"):
            await shared.http.post(f"/api/orders/{order['id']}/status", json={"status": status})
        _proof_orders[id(shared)] = order["id"], token
    return _proof_orders[id(shared)]


_part_names = st.one_of(st.sampled_from(["photo", "signature", "recipient_name", "pin"]),
                        hostile_text)  # fmt: skip
_parts = st.lists(
    st.tuples(_part_names, st.booleans(), st.one_of(raw_bodies, st.binary(max_size=300))),
    max_size=10,
)


def _multipart(parts: list[tuple[str, bool, bytes]]) -> bytes:
    body = b""
    for name, is_file, content in parts:
        quoted = name.replace('"', "").encode("utf-8", "replace")
        filename = b'; filename="f.jpg"' if is_file else b""
        body += b'--B\r\nContent-Disposition: form-data; name="' + quoted + b'"' + filename
        body += b"\r\n\r\n" + content + b"\r\n"
    return body + b"--B--\r\n"


@SERVER
@given(parts=_parts, raw=st.one_of(st.none(), raw_bodies), key=st.uuids())
async def test_proof_uploads_never_500(
    shared: Shared, parts: list[tuple[str, bool, bytes]], raw: bytes | None, key: object
) -> None:
    order_id, token = await _proof_order(shared)
    answer = await shared.http.post(
        f"/api/orders/{order_id}/proof",
        content=_multipart(parts) if raw is None else raw,
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": str(key),
            "Content-Type": "multipart/form-data; boundary=B",
        },
    )
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    assert answer.status_code >= 400, answer.text[:300]  # no junk makes a proof
    assert_client_error(answer)
    assert await shared.db.fetchval("SELECT count(*) FROM proofs") == 0


class Socket:
    """A courier connection that keeps every reply, to check what each frame got."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.replies: list[dict[str, Any]] = []

    async def exchange(self, frame: bytes, probe_seq: int) -> list[dict[str, Any]]:
        """Send `frame`, then a good fix; the replies up to the good fix's ack."""
        start = len(self.replies)
        await self.ws.send(frame)  # binary frames: the server reads them as UTF-8 JSON too
        probe = fix(probe_seq, now() - timedelta(seconds=1), 11.92, 50.31)
        await self.ws.send(json.dumps(probe))
        async with asyncio.timeout(10):
            while True:
                reply = json.loads(await self.ws.recv())
                self.replies.append(reply)
                assert reply.get("seq") != probe_seq, reply  # the good fix was rejected
                if reply["type"] == "ack" and probe_seq in reply["seqs"]:
                    return self.replies[start:]


@pytest.fixture(scope="module")
async def courier(shared: Shared) -> AsyncIterator[tuple[int, Socket]]:
    driver_id, token = await shared.server.create_driver("Fuzz courier")
    async with websockets.connect(f"{shared.server.ws_url}/ws/driver?token={token}") as ws:
        yield driver_id, Socket(ws)


PROBE_SEQS = iter(range(10**12, 10**12 + 10**6))


@SERVER
@given(frame=frames)
async def test_socket_frames_get_replies_and_the_connection_stays(
    shared: Shared, courier: tuple[int, Socket], frame: bytes
) -> None:
    driver_id, socket = courier
    count = "SELECT count(*) FROM positions WHERE driver_id = $1"
    before = await shared.db.fetchval(count, driver_id)
    replies = await socket.exchange(frame, next(PROBE_SEQS))  # raises if the socket closed
    acked = {s for r in replies if r["type"] == "ack" for s in r["seqs"]}
    # Actions are answered when done (perhaps after the probe's ack), and may change the run.
    kinds = ("ack", "rejected", "error", "action_result", "run")
    assert all(r["type"] in kinds for r in replies), replies
    # Stored: the probe, and at most the frame's acked fixes (a repeated seq is acked
    # again, stored once); nothing that was refused.
    assert before + 1 <= await shared.db.fetchval(count, driver_id) <= before + len(acked)
    assert socket.ws.close_code is None


@SERVER
@given(message=st.one_of(raw_bodies, json_values.map(lambda v: json.dumps(v).encode())))
async def test_fleet_socket_messages_never_close_it(shared: Shared, message: bytes) -> None:
    url = f"{shared.server.ws_url}/ws/fleet?token={ADMIN_TOKEN}"
    async with websockets.connect(url) as ws:
        assert await _answer(ws) == "snapshot"
        await ws.send(message[:4096].decode("utf-8", "replace"))
        assert await _answer(ws) in ("error", "snapshot")
        await ws.send(json.dumps({"type": "viewport", "bbox": None}))
        assert await _answer(ws) == "snapshot"


async def _answer(ws: websockets.ClientConnection) -> str:
    """The type of the next message that is not a fleet delta or an alert."""
    async with asyncio.timeout(10):
        while (kind := json.loads(await ws.recv())["type"]) in ("delta", "alert"):
            pass
    return str(kind)
