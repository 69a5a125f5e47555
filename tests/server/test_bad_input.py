"""Every kind of bad courier input gets a clear answer, stores nothing, and the
connection stays usable."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from server.base.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.harness import RunningServer, run_server

LON, LAT = 11.92, 50.31


def _fix(seq: int, **changes: Any) -> dict[str, Any]:
    message = fix(seq, now() - timedelta(seconds=5), LON, LAT)
    message.update(changes)
    return {k: v for k, v in message.items() if v is not None}


# (frame, "rejected" rule text or "error" text expected in the reply)
BAD_FRAMES: list[tuple[str, str | bytes, str, str]] = [
    ("not json", "hello there", "error", "malformed JSON"),
    ("empty frame", "", "error", "malformed JSON"),
    ("binary garbage", b"\x00\xff\x10", "error", "malformed JSON"),
    ("array", "[]", "error", "not a courier message"),
    ("unknown type", '{"type":"hello"}', "error", '"type" must be'),
    ("no type", '{"seq":1,"lat":1,"lon":2}', "error", '"type" must be'),
    ("NaN literal", '{"type":"fix","seq":1,"t":1,"lat":NaN,"lon":2}', "error", "malformed JSON"),
    ("negative seq", json.dumps(_fix(-1)), "error", "not a courier message"),
    ("lat 91", json.dumps(_fix(101, lat=91.0)), "rejected", "lat_range"),
    ("lat -90.5", json.dumps(_fix(102, lat=-90.5)), "rejected", "lat_range"),
    ("lon 181", json.dumps(_fix(103, lon=181.0)), "rejected", "lon_range"),
    (
        "lat overflow",
        json.dumps(_fix(104)).replace(f'"lat": {LAT}', '"lat": 1e999'),
        "rejected",
        "out of range",
    ),
    ("lat as text", json.dumps(_fix(105, lat="50.3")), "rejected", "invalid fix"),
    (
        "missing lon",
        json.dumps({k: v for k, v in _fix(106).items() if k != "lon"}),
        "rejected",
        "lon",
    ),
    ("year 2099", json.dumps(_fix(107, t=4_070_908_800_000)), "rejected", "in_future"),
    ("epoch seconds", json.dumps(_fix(108, t=1_700_000_000)), "rejected", "too_old"),
    ("naive ISO time", json.dumps(_fix(109, t="2026-01-01T10:00:00")), "rejected", "no UTC offset"),
    ("garbage time", json.dumps(_fix(110, t="yesterday")), "rejected", "not ISO 8601"),
    ("negative accuracy", json.dumps(_fix(111, acc=-3)), "rejected", "accuracy"),
    ("huge accuracy", json.dumps(_fix(112, acc=50_000)), "rejected", "accuracy"),
    ("negative speed", json.dumps(_fix(113, speed=-1)), "rejected", "speed_range"),
    ("speed of a jet", json.dumps(_fix(114, speed=300)), "rejected", "speed_range"),
    ("heading 400", json.dumps(_fix(115, heading=400)), "rejected", "heading_range"),
    ("battery 150%", json.dumps(_fix(116, battery=1.5)), "rejected", "battery_range"),
    ("altitude in space", json.dumps(_fix(117, alt=900_000)), "rejected", "alt_range"),
    ("null island", json.dumps(_fix(118, lat=0.0, lon=0.0)), "rejected", "null_island"),
    (
        "too many fixes",
        json.dumps({"type": "fixes", "fixes": [_fix(i) for i in range(1001)]}),
        "error",
        "too many fixes",
    ),
]


async def _authorised(server: RunningServer) -> Courier:
    _, token = await server.create_driver()
    courier = Courier(server.ws_url, token)
    await courier.connect()
    return courier


@pytest.mark.parametrize(
    ("case", "frame", "kind", "text"), BAD_FRAMES, ids=[c[0] for c in BAD_FRAMES]
)
async def test_bad_frame_is_answered_and_changes_nothing(
    settings: Settings, db: asyncpg.Connection, case: str, frame: str | bytes, kind: str, text: str
) -> None:
    async with run_server(settings) as server:
        courier = await _authorised(server)
        await courier.send(frame)
        await courier.wait_until(lambda: bool(courier.errors or courier.rejected))
        replies = courier.errors if kind == "error" else list(courier.rejected.values())
        assert len(replies) == 1 and text in replies[0], (courier.errors, courier.rejected)
        if kind == "rejected":
            assert set(courier.rejected) == {json.loads(frame)["seq"]}
        assert await db.fetchval("SELECT count(*) FROM positions") == 0

        # The same connection still works.
        await courier.send(_fix(1))
        await courier.wait_acked({1})
        assert courier.close_code is None
        await courier.close()
    assert await db.fetchval("SELECT count(*) FROM positions") == 1


async def test_backlog_with_some_bad_fixes_keeps_the_good(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server:
        courier = await _authorised(server)
        t0 = now() - timedelta(minutes=5)
        good = [fix(i, t0 + timedelta(seconds=i), LON + i * 1e-4, LAT) for i in range(5)]
        bad: list[Any] = [
            {**good[0], "seq": 10, "lat": 95.0},
            {"seq": 11, "lat": "x"},
            42,
            {**good[0], "seq": 12, "t": "soon"},
        ]
        await courier.send_batch([*good[:3], *bad, *good[3:]])
        await courier.wait_acked(range(5))
        await courier.wait_until(lambda: len(courier.rejected) == 4)
        assert set(courier.rejected) == {10, 11, None, 12}
        assert "lat_range" in courier.rejected[10]
        await courier.close()
    assert await db.fetchval("SELECT count(*) FROM positions") == 5


async def test_unknown_fields_are_ignored(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server:
        courier = await _authorised(server)
        await courier.send({**_fix(1), "provider": "gps", "nested": {"a": [1, 2]}})
        await courier.wait_acked({1})
        await courier.close()
    assert await db.fetchval("SELECT count(*) FROM positions") == 1


async def test_teleport_is_rejected_with_the_reason(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server:
        courier = await _authorised(server)
        t0 = now() - timedelta(minutes=1)
        await courier.send(fix(1, t0, LON, LAT))
        await courier.wait_acked({1})
        await courier.send(fix(2, t0 + timedelta(seconds=1), LON + 1.0, LAT))  # ~70 km in 1 s
        await courier.wait_until(lambda: 2 in courier.rejected)
        assert courier.rejected[2].startswith("teleport:")
        await courier.send(fix(3, t0 + timedelta(seconds=2), LON + 2e-4, LAT))
        await courier.wait_acked({3})
        await courier.close()
    assert await db.fetchval("SELECT count(*) FROM positions") == 2


async def test_oversized_frame_closes_the_connection(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server:
        courier = await _authorised(server)
        await courier.send("x" * (1024 * 1024))
        assert await courier.wait_closed() == 1009  # message too big
        # Others are unaffected.
        other = await _authorised(server)
        await other.send(_fix(1))
        await other.wait_acked({1})
        await other.close()
    assert await db.fetchval("SELECT count(*) FROM positions") == 1


@pytest.mark.parametrize("token", [None, "", "not-a-real-token"], ids=["missing", "empty", "wrong"])
async def test_bad_token_closes_with_4401(settings: Settings, token: str | None) -> None:
    async with run_server(settings) as server:
        courier = Courier(server.ws_url, token)
        await courier.connect()
        assert await courier.wait_closed() == 4401


async def test_token_in_header_works(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server:
        _, token = await server.create_driver()
        courier = Courier(server.ws_url, None)
        await courier.connect(additional_headers={"Authorization": f"Bearer {token}"})
        await courier.send(_fix(1))
        await courier.wait_acked({1})
        await courier.close()
