"""Property-based fuzzing of every decoder of client input, called as plain functions:
whatever arrives, the answer is a result or the documented error. Cheap, so many examples
(tests/server/test_fuzz.py throws the same inputs at a real server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from server.edges.phone_apps import osmand as osmand_decode
from server.wire import courier as wire
from server.wire import jsonin
from tests.server.fuzz_inputs import (
    deep_json,
    depth_of,
    frames,
    hostile_number,
    hostile_text,
    json_values,
    osmand_bodies,
    params,
    raw_bodies,
    scalars,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PURE = settings(max_examples=150, deadline=None)

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
