"""Decoding courier frames (pure; no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from server.wire import courier as wire


def frame(**fields: object) -> str:
    return json.dumps(
        {"type": "fix", "seq": 1, "t": 1_767_225_600_000, "lat": 50.3, "lon": 11.9, **fields}
    )


def test_single_fix_in_canonical_units() -> None:
    decoded = wire.decode_frame(frame(acc=5, speed=12.5, heading=90, alt=500, battery=0.8), 10)
    assert decoded.rejected == []
    [(seq, fix)] = decoded.fixes
    assert seq == 1
    assert fix.recorded_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert (fix.lon, fix.lat, fix.accuracy_m, fix.speed_mps) == (11.9, 50.3, 5.0, 12.5)
    assert (fix.heading_deg, fix.altitude_m, fix.battery) == (90.0, 500.0, 0.8)


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        ("2026-01-01T00:00:00Z", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T02:00:00+02:00", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T00:00:00.250Z", datetime(2026, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)),
        (1_767_225_600_250, datetime(2026, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)),
        (1_767_225_600_000.0, datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_time_forms(t: object, expected: datetime) -> None:
    assert wire.parse_time(t) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("t", [-1, 10**20, float("nan"), "2026-01-01T00:00:00", "noon", ""])
def test_bad_times_give_a_reason(t: object) -> None:
    reason = wire.parse_time(t)  # type: ignore[arg-type]
    assert isinstance(reason, str) and reason.startswith("time: ")


def test_backlog_splits_good_and_bad() -> None:
    good = json.loads(frame())
    data = json.dumps({"type": "fixes", "fixes": [good, {**good, "seq": 2, "lat": "x"}, "junk"]})
    decoded = wire.decode_frame(data, 10)
    assert [seq for seq, _ in decoded.fixes] == [1]
    assert [(r.seq, r.reason.split(":")[0]) for r in decoded.rejected] == [
        (2, "invalid fix"),
        (None, "invalid fix"),
    ]


def test_http_body_may_be_a_bare_array() -> None:
    decoded = wire.decode_fixes_body(b"[" + frame().encode() + b"]", 10)
    assert [seq for seq, _ in decoded.fixes] == [1]


def test_replies_encode_to_the_contract() -> None:
    assert json.loads(wire.encode(wire.Ack([1, 2]))) == {"type": "ack", "seqs": [1, 2]}
    assert json.loads(wire.encode(wire.Rejected(3, "lat_range: x"))) == {
        "type": "rejected",
        "seq": 3,
        "reason": "lat_range: x",
    }
    assert json.loads(wire.encode(wire.Error("bad"))) == {"type": "error", "reason": "bad"}
