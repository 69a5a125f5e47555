"""Property-based fuzzing of every decoder of client input and of the REST and socket
edges: whatever arrives, the answer is a result or the documented error, never a 500,
never an aborted connection, and nothing is stored for what was refused.

The pure decoder properties are cheap and run many examples; the server properties share
one real server for the module and keep to a modest number of examples each.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
import websockets
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from server.edges.phone_apps import osmand as osmand_decode
from server.wire import courier as wire
from server.wire import jsonin
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import fix, now
from tests.server.hostile import Shared, assert_client_error, shared_server

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PURE = settings(max_examples=150, deadline=None)
SERVER = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# -- strategies --------------------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=5),  # control characters
    st.sampled_from(
        ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "9" * 30, "-1", "NaN",
         "1e999", "²", "١٢", "", " ", "\x00", "[[[[", "2026-01-01T10:00:00", "null"]
    ),
)  # fmt: skip
hostile_number = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 2**63, 2**64, 253_402_300_799_999, 1e308, -1e308, 5e-324]),
)
scalars = st.one_of(st.none(), st.booleans(), hostile_number, hostile_text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)
    ),
    max_leaves=12,
)


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


raw_bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=30, max_value=6000).map(lambda n: deep_json(n).encode()),
    st.integers(min_value=30, max_value=3000).map(lambda n: ('{"a":' * n + "1" + "}" * n).encode()),
)


@st.composite
def fix_like(draw: st.DrawFn) -> dict[str, Any]:
    """A fix with any field replaced by something hostile, or left out."""
    seq = draw(st.one_of(st.integers(min_value=0, max_value=2**63 - 1), json_values))
    fields: dict[str, Any] = {
        "seq": seq,
        "t": draw(st.one_of(hostile_number, hostile_text)),
        "lat": draw(st.one_of(hostile_number, scalars)),
        "lon": draw(st.one_of(hostile_number, scalars)),
    }
    for name in ("acc", "speed", "heading", "alt", "battery", "extra"):
        if draw(st.booleans()):
            fields[name] = draw(json_values)
    drop = draw(st.sets(st.sampled_from(list(fields))))
    return {k: v for k, v in fields.items() if k not in drop}


frames = st.one_of(
    raw_bodies,
    fix_like().map(lambda f: json.dumps({"type": "fix", **f}).encode()),
    st.lists(st.one_of(fix_like(), json_values), max_size=5).map(
        lambda fs: json.dumps({"type": "fixes", "fixes": fs}).encode()
    ),
)


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


# -- the decoders, pure ------------------------------------------------------------------


def nested(depth: int, inner: Any) -> Any:
    """`inner` inside `depth` alternating arrays and objects."""
    for level in range(depth):
        inner = [inner] if level % 2 else {"k": inner}
    return inner


@PURE
@given(
    st.one_of(
        st.recursive(scalars, lambda inner: st.lists(inner, max_size=2), max_leaves=60),
        # Around the limit too, where the answer changes (random values seldom get there).
        st.builds(nested, st.integers(jsonin.MAX_DEPTH - 3, jsonin.MAX_DEPTH + 3), scalars),
    )
)
@example(nested(jsonin.MAX_DEPTH, 1))
@example(nested(jsonin.MAX_DEPTH + 1, 1))
def test_depth_check_agrees_with_the_real_depth(value: Any) -> None:
    data = json.dumps(value)
    if depth_of(value) > jsonin.MAX_DEPTH:
        with pytest.raises(jsonin.TooDeep):
            jsonin.check_depth(data.encode())
    else:
        jsonin.check_depth(data.encode())
        jsonin.check_depth(data)


@PURE
@given(
    st.integers(min_value=1, max_value=jsonin.MAX_DEPTH - 1),
    st.text(alphabet='[]{}"\\ab', max_size=40),
)
def test_brackets_in_strings_do_not_count(depth: int, text: str) -> None:
    data = json.dumps({"a": [text] * 3, "b": json.loads(deep_json(depth))})
    jsonin.check_depth(data.encode())  # at most MAX_DEPTH deep, whatever the strings hold


@PURE
@given(raw_bodies)
def test_guarded_decode_raises_only_decode_errors(data: bytes) -> None:
    try:
        jsonin.decode(data, Any)
    except msgspec.DecodeError:  # and nothing else
        return
    jsonin.check_depth(data)  # what decoded was within the limit


@PURE
@given(frames, st.integers(min_value=1, max_value=5))
def test_decode_frame_returns_or_raises_frame_error(data: bytes, max_fixes: int) -> None:
    for decode in (wire.decode_frame, wire.decode_fixes_body):
        try:
            decoded = decode(data, max_fixes)
        except wire.FrameError:
            continue
        for _, fix_ in decoded.fixes:
            assert fix_.recorded_at.tzinfo is not None
            assert fix_.recorded_at.utcoffset() == timedelta(0)


@PURE
@given(st.one_of(hostile_number, hostile_text, st.floats()))
def test_parse_time_gives_a_time_or_a_reason(t: Any) -> None:
    result = wire.parse_time(t)
    assert isinstance(result, str) or result.utcoffset() == timedelta(0)


params = st.lists(
    st.tuples(
        st.one_of(
            st.sampled_from(
                ["id", "deviceid", "timestamp", "lat", "lon", "location", "speed", "bearing",
                 "heading", "altitude", "accuracy", "batt", "cell", "wifi", "hdop"]
            ),
            hostile_text,
        ),
        hostile_text,
    ),
    max_size=10,
)  # fmt: skip


@PURE
@given(params, st.sampled_from(sorted(osmand_decode.SPEED_TO_MPS)))
def test_osmand_params_decode_or_protocol_error(items: list[tuple[str, str]], unit: str) -> None:
    try:
        device_id, app_fix = osmand_decode.decode_params(items, NOW, unit, ZoneInfo("Asia/Tokyo"))
    except osmand_decode.ProtocolError as exc:
        assert exc.status == 400
        return
    assert device_id and not jsonin.has_control_char(device_id)
    assert jsonin.control_char_path(app_fix.attributes) is None
    msgspec.json.encode(app_fix.attributes)  # storable as jsonb


osmand_bodies = st.one_of(
    raw_bodies,
    st.fixed_dictionaries(
        {
            "device_id": st.one_of(hostile_text, json_values),
            "location": st.one_of(
                json_values,
                st.lists(
                    st.fixed_dictionaries(
                        {"coords": st.fixed_dictionaries(
                            {"latitude": hostile_number, "longitude": hostile_number})},
                        optional={"timestamp": hostile_text, "extras": json_values,
                                  "battery": json_values, "activity": json_values},
                    ),
                    max_size=3,
                ),
            ),
        }
    ).map(lambda body: json.dumps(body).encode()),
)  # fmt: skip


@PURE
@given(osmand_bodies)
def test_osmand_json_decodes_or_protocol_error(body: bytes) -> None:
    try:
        _, fixes = osmand_decode.decode_json(body, NOW, ZoneInfo("America/Los_Angeles"), 1000)
    except osmand_decode.ProtocolError as exc:
        assert exc.status == 400
        return
    for app_fix in fixes:
        assert (app_fix.fix is None) == (app_fix.rejected is not None)
        assert jsonin.control_char_path(app_fix.attributes) is None


@PURE
@given(json_values)
def test_control_char_path_finds_exactly_the_control_characters(value: Any) -> None:
    assert (jsonin.control_char_path(value) is not None) == _any_control(value), value


def _any_control(value: Any) -> bool:
    if isinstance(value, str):
        return any(ord(c) < 0x20 and c not in "\t\n\r" for c in value)
    if isinstance(value, list):
        return any(_any_control(v) for v in value)
    if isinstance(value, dict):
        return any(_any_control(k) or _any_control(v) for k, v in value.items())
    return False


# -- a real server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def shared(database_url: str) -> AsyncIterator[Shared]:
    async with shared_server(database_url) as shared:
        yield shared


REST_BODIES = {
    "/api/drivers": {"name": "Ana"},
    "/api/orders": {"customer": {"name": "C"}, "destination": {"lat": 41.1, "lon": -8.6}},
    "/api/orders/{order}/status": {"status": "processing"},
    "/api/orders/{order}/assign": {"driver_id": 1},
    "/api/keys": {"name": "k"},
    "/api/webhooks": {"url": "http://127.0.0.1:9/h", "events": ["*"]},
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
    before = await shared.counts()
    answer = await shared.http.post(path.format(order=order), content=body)
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    if answer.status_code >= 400:
        assert_client_error(answer)
        after = await shared.counts()
        assert after == before, (answer.status_code, answer.text[:300])


@SERVER
@given(
    query=st.dictionaries(
        st.sampled_from(["after", "driver_id", "limit", "status", "late"]), hostile_text
    )
)
async def test_order_list_query_never_500(shared: Shared, query: dict[str, str]) -> None:
    answer = await shared.http.get("/api/orders", params=query)
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
    assert all(r["type"] in ("ack", "rejected", "error") for r in replies), replies
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
