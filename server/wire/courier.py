"""Courier wire messages: typed decoding where bytes enter, encoding of replies.

A frame is one fix (`{"type":"fix",...}`), a backlog (`{"type":"fixes","fixes":[...]}`)
or a courier action (`{"type":"action",...}`, courier_actions.py). Decoding splits a
frame into good fixes and per-fix rejections, so one bad fix in a backlog never costs the
others; a frame that is not a message at all is a `FrameError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

from geo.model import Fix
from server.wire import jsonin
from server.wire.courier_actions import ActionMessage

Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class FixIn(msgspec.Struct, frozen=True):
    """One fix as couriers send it. Unknown fields are ignored."""

    seq: Seq
    t: int | float | str  # epoch milliseconds, or ISO 8601 with a UTC offset
    lat: float
    lon: float
    acc: float | None = None
    speed: float | None = None
    heading: float | None = None
    alt: float | None = None
    battery: float | None = None


class FixMessage(FixIn, frozen=True, tag="fix", tag_field="type"):
    pass


class FixesMessage(msgspec.Struct, frozen=True, tag="fixes", tag_field="type"):
    fixes: list[msgspec.Raw]


class _Probe(msgspec.Struct):
    """Enough of a malformed fix to say which one it was."""

    seq: Seq | None = None
    type: str | None = None
    id: Any = None  # an action's


class Ack(msgspec.Struct, tag="ack", tag_field="type"):
    seqs: list[int]


class Rejected(msgspec.Struct, tag="rejected", tag_field="type"):
    seq: int | None
    reason: str


class Error(msgspec.Struct, tag="error", tag_field="type"):
    reason: str


class FrameError(ValueError):
    """The frame is not a courier message; the text says why."""


@dataclass(slots=True)
class Decoded:
    fixes: list[tuple[int, Fix]]
    rejected: list[Rejected]
    action: ActionMessage | None = None
    # An action that is not well formed: (its id, what is wrong), answered as its result.
    bad_action: tuple[str, str] | None = None


_frame_decoder = jsonin.Decoder(msgspec.json.Decoder(FixMessage | FixesMessage | ActionMessage))
_fix_decoder = jsonin.Decoder(msgspec.json.Decoder(FixIn))
_probe_decoder = jsonin.Decoder(msgspec.json.Decoder(_Probe))
encode = msgspec.json.Encoder().encode


def decode_frame(data: bytes | str, max_fixes: int) -> Decoded:
    """Decode one frame. Raises FrameError when it is not a message at all."""
    try:
        message = _frame_decoder.decode(data)
    except msgspec.DecodeError as exc:
        bad_action = _bad_action(data, exc)
        if bad_action is not None:
            return Decoded([], [], bad_action=bad_action)
        rejected = _rejected_fix(data, "fix", exc)
        if rejected is None:
            raise FrameError(_frame_reason(exc)) from None
        return Decoded([], [rejected])
    if isinstance(message, ActionMessage):
        return Decoded([], [], action=message)
    if isinstance(message, FixMessage):
        return _convert([message], [])
    if len(message.fixes) > max_fixes:
        raise FrameError(f"too many fixes in one message: {len(message.fixes)} > {max_fixes}")
    good: list[FixIn] = []
    rejected_list: list[Rejected] = []
    for raw in message.fixes:
        try:
            good.append(_fix_decoder.decode(raw))
        except msgspec.DecodeError as exc:
            rejected_list.append(
                _rejected_fix(raw, None, exc) or Rejected(None, f"invalid fix: {exc}")
            )
    return _convert(good, rejected_list)


def decode_fixes_body(data: bytes, max_fixes: int) -> Decoded:
    """HTTP ingest body: a frame as on the socket, or a bare JSON array of fixes."""
    if data.lstrip()[:1] == b"[":
        return decode_frame(b'{"type":"fixes","fixes":' + data + b"}", max_fixes)
    return decode_frame(data, max_fixes)


def _rejected_fix(
    data: bytes | str | msgspec.Raw, kind: str | None, exc: Exception
) -> Rejected | None:
    """If `data` is a fix-shaped object with a usable seq, a rejection naming it."""
    probe = _probe(data, exc)
    if probe is None or probe.seq is None or (kind is not None and probe.type != kind):
        return None
    return Rejected(probe.seq, f"invalid fix: {exc}")


def _bad_action(data: bytes | str, exc: Exception) -> tuple[str, str] | None:
    """An action-shaped object with a usable id: (id, what is wrong)."""
    probe = _probe(data, exc)
    if probe is None or probe.type != "action" or not isinstance(probe.id, str):
        return None
    if not 0 < len(probe.id) <= 200:
        return None
    return probe.id, f"invalid action: {exc}"


def _probe(data: bytes | str | msgspec.Raw, exc: Exception) -> _Probe | None:
    """Enough of an object that failed validation (not one that is not JSON) to name it."""
    if not isinstance(exc, msgspec.ValidationError):
        return None
    try:
        return _probe_decoder.decode(data)
    except msgspec.DecodeError:
        return None


def _frame_reason(exc: msgspec.DecodeError) -> str:
    text = str(exc)
    if isinstance(exc, msgspec.ValidationError):
        if "`$.type`" in text or "missing required field `type`" in text:
            return 'not a courier message: "type" must be "fix", "fixes" or "action"'
        return f"not a courier message: {text}"
    return f"malformed JSON: {text}"


def _convert(messages: list[FixIn], rejected: list[Rejected]) -> Decoded:
    fixes: list[tuple[int, Fix]] = []
    for m in messages:
        recorded_at = parse_time(m.t)
        if isinstance(recorded_at, str):
            rejected.append(Rejected(m.seq, recorded_at))
            continue
        fixes.append(
            (
                m.seq,
                Fix(
                    recorded_at=recorded_at,
                    lon=m.lon,
                    lat=m.lat,
                    accuracy_m=m.acc,
                    speed_mps=m.speed,
                    heading_deg=m.heading,
                    altitude_m=m.alt,
                    battery=m.battery,
                ),
            )
        )
    return Decoded(fixes, rejected)


_MAX_EPOCH_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z


def parse_time(t: int | float | str) -> datetime | str:
    """Epoch milliseconds or ISO 8601 with an offset -> aware UTC datetime, else a reason.

    >>> parse_time(0).isoformat()
    '1970-01-01T00:00:00+00:00'
    >>> parse_time("2026-01-01T10:00:00")
    'time: "2026-01-01T10:00:00" has no UTC offset (add Z or +hh:mm)'
    >>> parse_time("0001-01-01T00:00:00+01:00")
    "time: '0001-01-01T00:00:00+01:00' is out of range"
    """
    if isinstance(t, str):
        try:
            parsed = datetime.fromisoformat(t)
        except ValueError:
            return f"time: {t[:40]!r} is not ISO 8601"
        if parsed.tzinfo is None:
            return f'time: "{t[:40]}" has no UTC offset (add Z or +hh:mm)'
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):  # year 1 east of UTC, year 9999 west of it
            return f"time: {t[:40]!r} is out of range"
    if not (0 <= t <= _MAX_EPOCH_MS):  # also false for NaN
        return f"time: {t} is not epoch milliseconds"
    return datetime.fromtimestamp(t / 1000.0, UTC)
