"""Decoding courier frames, and what the server sends as docs/api.md documents it (pure;
no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from geo.eta import StopEta
from geo.model import Fix
from server.domain.lifecycle import Status
from server.store.credentials import ApiKey
from server.store.orders import Order, TimelineEntry
from server.store.queries import Driver
from server.store.self_service import Issue, Rating
from server.wire import courier as wire
from server.wire import live, notify, orders, rest


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


# Outbound: every message and view's fields, in order, as docs/api.md documents them ---------
DOCS = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
AT = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def documented(marker: str) -> list[str]:
    """The keys, in order, of the JSON object in docs/api.md that starts at `marker`
    or, in it, from the first `{` on (documented shapes use `…` for values: read, not parsed)."""
    keys: list[str] = []
    depth, i = 0, DOCS.index("{", DOCS.index(marker))
    while True:
        char = DOCS[i]
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return keys
        elif char == '"' and depth == 1:
            end = DOCS.index('"', i + 1)
            if DOCS[end + 1 : end + 3].lstrip().startswith(":"):
                keys.append(DOCS[i + 1 : end])
            i = end
        i += 1


def documented_bare(marker: str) -> list[str]:
    """Keys of a shape written `{id, name, …}`."""
    start = DOCS.index(marker) + len(marker)
    return [k.strip() for k in DOCS[start : DOCS.index("}", start)].split(",")]


def sent(message: object) -> dict[str, Any]:
    decoded = msgspec.json.decode(msgspec.json.encode(message))
    assert isinstance(decoded, dict)
    return decoded


ETA = live.eta_of(
    StopEta("7", AT, 754.4, 4120.2, (AT, AT), "high", None)  # stop id: not for clients
)
POSITION = live.position_of(Fix(AT, -8.61, 41.15, accuracy_m=6.0, speed_mps=7.5))
ORDER = Order(
    7, "A-1001", "7KQ2M9XD3HVAPR4T", "Cleo", None, None, (-8.61, 41.15), None, AT, AT, AT,
    Status.OUT_FOR_DELIVERY, 3, 0, None, AT, AT, None,
)  # fmt: skip
STEP = TimelineEntry(Status.CONFIRMED, AT, "admin", None)
ENTRY = live.FleetEntry(
    3, "Ana", None, True, "delivering", POSITION,
    live.CurrentStop(7, "A-1001", "out_for_delivery", ETA),
    [live.FleetOrder(7, "A-1001", "out_for_delivery", 0, AT, False)],
)  # fmt: skip


def test_customer_messages_as_documented() -> None:
    assert list(sent(ETA)) == documented('{"eta": "2026-11-28T10:42:00Z"')
    assert "stop_id" not in sent(ETA)
    assert list(sent(POSITION)) == documented('"courier": {"lat": 41.149')
    position = sent(live.PositionMessage(POSITION, ETA, 1))
    assert list(position) == documented('{"type":"position"')
    assert "stops_before" not in sent(live.PositionMessage(POSITION, ETA))  # off a run
    assert list(sent(live.eta_message(ETA, 1))) == documented('{"type":"eta"')
    assert "stops_before" not in sent(live.eta_message(ETA))
    assert list(sent(live.ArrivedMessage(AT))) == documented('{"type":"arrived"')
    assert sent(live.eta_message(None)) == {"type": "eta"}
    status = live.StatusMessage("shipped", AT, None, None)
    assert list(sent(status)) == documented('{"type":"status"')
    assert live.encode(status).startswith(live.STATUS_PREFIX)  # how watchers spot one
    view = orders.customer_order(ORDER, [STEP], POSITION, None, ETA, None)
    assert list(sent(view)) == documented('{"tracking_code": "7KQ2')
    step = documented('"timeline": [{"status": "confirmed", "at": "…", "note"')
    assert list(sent(view)["timeline"][0]) == step
    snapshot = msgspec.json.decode(orders.customer_snapshot(view))
    assert snapshot == {"type": "snapshot", **sent(view)}


def test_customer_eta_without_distance_keeps_its_fields() -> None:
    withheld = sent(live.without_distance(ETA))
    assert withheld == {**sent(ETA), "remaining_m": None}


def test_dispatcher_messages_as_documented() -> None:
    assert list(sent(ENTRY)) == documented('{"id": 3, "name": "Ana"')
    assert list(sent(ENTRY)["current_stop"]) == documented('"current_stop": {"order_id"')
    assert list(sent(ENTRY)["orders"][0]) == documented('"orders": [{"id": 7')
    assert list(sent(live.FleetView([ENTRY], AT))) == documented('→ `{"drivers"')
    assert list(sent(live.FleetSnapshot([ENTRY], AT))) == documented('{"type":"snapshot","d')
    delta = msgspec.json.decode(live.delta(live.delta_header(AT), [live.encode(ENTRY)]))
    assert list(delta) == documented('{"type":"delta"')
    assert delta["drivers"] == [sent(ENTRY)]
    alert = live.Alert("off_route", 3, None, AT, None)
    assert list(sent(alert)) == documented('{"type":"alert"')
    assert list(sent(wire.Error("bad"))) == documented('`{"type":"error","reason":…}` and')


def test_order_view_as_documented() -> None:
    feedback = ([Issue(4, 7, "late", None, AT)], Rating(7, 4, "Fine", AT))
    view = orders.dispatcher_order(ORDER, "http://x/t/7KQ2", None, False, ETA, [STEP], feedback)
    assert list(sent(view)) == documented('{"id": 7, "reference": "A-1001"')
    assert list(sent(view)["issues"][0]) == documented('"issues": [{"id": 4')
    assert list(sent(view)["rating"]) == documented('"rating": {"score": 4')
    step = documented('"timeline": [{"status": "confirmed", "at": "…", "actor"')
    assert list(sent(view)["timeline"][0]) == step
    listed = orders.dispatcher_order(ORDER, "http://x/t/7KQ2", None, False, None)
    assert not {"timeline", "issues", "rating"} & set(sent(listed))
    assert list(sent(orders.OrderPage([listed], None))) == documented('`{"orders": […]')


def test_rest_answers_as_documented() -> None:
    driver = Driver(1, "Ana", None, None, "123456", AT)
    created = sent(rest.driver_view(driver, with_device_id=True, token="t"))
    assert list(created) == documented('{"id": 1, "name": "Ana"')
    dispatchers = sent(rest.driver_view(driver, with_device_id=False))
    assert "device_id" not in dispatchers and "token" not in dispatchers
    key = rest.key_view(ApiKey(1, "ops", "dispatcher", AT, None))
    assert list(sent(key)) == documented_bare('`{"keys": [{')
    assert list(sent(rest.KeyCreated(1, "ops", "dispatcher", "k"))) == documented_bare("`201 {")
    assert list(sent(rest.TransitionRefused("no", []))) == documented('`409 {"error"')
    assert list(sent(rest.Readiness("ok", "ok", "ok", 0, "ok"))) == documented(
        '200 {"status":"ok","database"'
    )
    assert sent(rest.Alive()) == {"status": "ok"}
    ingested = sent(rest.Ingested([0], [wire.Rejected(3, "lat_range")]))
    assert list(ingested) == documented('{"acked":[0,1,2]')
    assert list(ingested["rejected"][0]) == documented('"rejected":[{"type"')
    body = msgspec.json.decode(notify.webhook_body(5, "order.shipped", AT, {"order_id": 7}))
    assert list(body) == documented('{"id": "evt_…"')
    assert body["id"] == "evt_5"


def test_an_eta_view_holds_the_contract_fields_of_the_stop_eta() -> None:
    """eta_of builds the view directly: the same fields as StopEta.to_json, rounded and
    formatted alike (half-way values, sub-second instants)."""
    for eta_s, remaining_m, reason in ((754.5, 4120.5, None), (0.4, 0.6, "off route")):
        at = datetime(2026, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC)
        stop = StopEta("7", at, eta_s, remaining_m, (AT, at), "medium", reason)
        shown = stop.to_json()
        del shown["stop_id"]  # not for clients
        assert msgspec.structs.asdict(live.eta_of(stop)) == {**shown, "estimate": False}
