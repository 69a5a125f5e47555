"""What the fuzz tests throw at the server: hostile scalars, JSON of any shape and depth,
raw bodies, courier frames with any field replaced, and OsmAnd parameters and bodies."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

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


@st.composite
def action_like(draw: st.DrawFn) -> dict[str, Any]:
    """A courier action with any field replaced by something hostile, or left out."""
    fields: dict[str, Any] = {
        "id": draw(st.one_of(hostile_text, json_values)),
        "order_id": draw(st.one_of(hostile_number, scalars)),
        "status": draw(st.one_of(st.sampled_from(["arrived", "delivered", "failed"]), scalars)),
        "reason": draw(st.one_of(st.sampled_from(["not_home", "other"]), json_values)),
        "note": draw(st.one_of(hostile_text, json_values)),
    }
    drop = draw(st.sets(st.sampled_from(list(fields))))
    return {k: v for k, v in fields.items() if k not in drop}


frames = st.one_of(
    raw_bodies,
    action_like().map(lambda a: json.dumps({"type": "action", **a}).encode()),
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
