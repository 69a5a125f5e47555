"""Decoding the OsmAnd protocol (Traccar Client and others) into canonical fixes.

Two forms, as the apps send them:
- query/form parameters: `id`/`deviceid`, `timestamp`, `lat`/`lon` or `location=lat,lon`,
  `speed` (knots unless configured), `bearing`/`heading`, `altitude`, `accuracy`, `batt` (%),
  `hdop`, `cell`, `wifi`, and any extra parameter (kept as an attribute);
- JSON (Transistorsoft `location`, Traccar Client 9+): `device_id`, `location` (one object
  or a list) with `timestamp` and `coords` (speed in m/s), `battery.level` (0..1), ...

Negative speed, heading and battery mean "unknown". Times: epoch seconds (below 2^31),
epoch milliseconds, ISO 8601, or a zone-less "yyyy-MM-dd HH:mm:ss" read in the configured
zone (the reference decoder uses the server's local zone; we make it explicit, UTC by
default). A request without a time is stamped with the server's receive time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from geo.model import Fix
from server.wire import jsonin

SPEED_TO_MPS = {"kn": 1852.0 / 3600.0, "kmh": 1.0 / 3.6, "mps": 1.0, "mph": 0.44704}
_INT_MAX = 2**31 - 1
MAX_PARAMS = 200  # a position is a dozen; the rest are attributes, cells and Wi-Fis
_KNOWN = frozenset(
    {"id", "deviceid", "timestamp", "lat", "lon", "location", "cell", "wifi", "speed",
     "bearing", "heading", "altitude", "accuracy", "batt"}
)  # fmt: skip


class ProtocolError(ValueError):
    """The request cannot be read; `status` is what the protocol answers."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(slots=True)
class AppFix:
    fix: Fix | None  # None: no position (cell or Wi-Fi data only, or `rejected`)
    attributes: dict[str, Any] = field(default_factory=dict)
    rejected: str | None = None  # why this one of several could not be read


def parse_time(text: str, received_at: datetime, zone: tzinfo) -> datetime:
    """
    >>> from zoneinfo import ZoneInfo
    >>> now, utc = datetime(2026, 1, 1, tzinfo=UTC), ZoneInfo("UTC")
    >>> parse_time("1377177267", now, utc).isoformat()
    '2013-08-22T13:14:27+00:00'
    >>> parse_time("1442068686579", now, utc).isoformat()
    '2015-09-12T14:38:06.579000+00:00'
    >>> parse_time("2014-06-04 09:10:11", now, ZoneInfo("Europe/Lisbon")).isoformat()
    '2014-06-04T08:10:11+00:00'
    """
    text = text.strip()
    if not text:
        return received_at
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number) or number < 0:
            raise ProtocolError(400, f"timestamp {text[:40]!r} is not a time")
        seconds = number if number < _INT_MAX else number / 1000.0
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, ValueError, OSError):
            raise ProtocolError(400, f"timestamp {text[:40]!r} is out of range") from None
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    except ValueError:
        raise ProtocolError(400, f"timestamp {text[:40]!r} is not a time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 east of UTC, year 9999 west of it
        raise ProtocolError(400, f"timestamp {text[:40]!r} is out of range") from None


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ProtocolError(400, f"{name}={text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise ProtocolError(400, f"{name} must be a finite number")
    return value


def _known_or_none(value: float | None) -> float | None:
    """The protocol's "negative means unknown"."""
    return None if value is None or value < 0 else value


def _attribute(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _small_int(text: str) -> int | None:
    """A plain decimal integer (cell ids, signal levels), else None.

    >>> _small_int(" -71"), _small_int("²"), _small_int("9" * 5000)
    (-71, None, None)
    """
    digits = text.strip().removeprefix("-")
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 18):
        return None
    return int(text)


def _network(cells: list[str], wifis: list[str]) -> dict[str, Any] | None:
    towers = []
    for cell in cells:
        numbers = [_small_int(p) for p in cell.split(",")]
        if len(numbers) in (4, 5) and None not in numbers:
            mcc, mnc, lac, cid = numbers[:4]
            signal = numbers[4] if len(numbers) == 5 else None
            towers.append({"mcc": mcc, "mnc": mnc, "lac": lac, "cid": cid, "signal": signal})
    points = []
    for wifi in wifis:
        mac, _, rssi_text = wifi.partition(",")
        rssi = _small_int(rssi_text)
        if rssi is not None:
            points.append({"mac": mac.replace("-", ":"), "rssi": rssi})
    if not towers and not points:
        return None
    return {"cellTowers": towers, "wifiAccessPoints": points}


def _device_id(text: str | None) -> str:
    if not text:
        raise ProtocolError(400, "missing id (the device identifier)")
    if jsonin.has_control_char(text):
        raise ProtocolError(400, "id must not contain control characters")
    return text


def form_items(text: str, max_fields: int | None = None) -> list[tuple[str, str]]:
    """`parse_qsl(text, keep_blank_values=True, max_num_fields=max_fields)`: a query string's
    or form body's parameters, in order. Raises ValueError past `max_fields`. Without a `%`
    or a `+` (the apps' usual request: numbers and a device id) nothing needs unquoting,
    and the pairs are split in one pass rather than unquoted one by one.

    >>> form_items("id=7&lat=1.5&flag&=x&&lon=")
    [('id', '7'), ('lat', '1.5'), ('flag', ''), ('', 'x'), ('lon', '')]
    >>> form_items("id=a%2Fb&name=A+B")
    [('id', 'a/b'), ('name', 'A B')]
    """
    if "%" in text or "+" in text:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=max_fields)
    if max_fields is not None and text.count("&") + 1 > max_fields:
        raise ValueError("Max number of fields exceeded")  # parse_qsl's check and words
    return [(name, value) for name, _, value in (p.partition("=") for p in text.split("&") if p)]


def decode_params(
    items: Iterable[tuple[str, str]], received_at: datetime, speed_unit: str, zone: tzinfo
) -> tuple[str, AppFix]:
    """Query-string or form parameters -> (device id, fix). Raises ProtocolError (400)."""
    items = list(itertools.islice(items, MAX_PARAMS + 1))
    if len(items) > MAX_PARAMS:
        raise ProtocolError(400, f"more than {MAX_PARAMS} parameters")
    params: dict[str, str] = {}
    cells: list[str] = []
    wifis: list[str] = []
    for key, value in items:
        if key == "cell":
            cells.append(value)
        elif key == "wifi":
            wifis.append(value)
        else:
            params[key] = value
    device_id = _device_id(params.get("id") or params.get("deviceid"))
    recorded_at = parse_time(params.get("timestamp", ""), received_at, zone)
    attributes = jsonin.storable_attributes(
        {key: _attribute(value) for key, value in params.items() if key not in _KNOWN}
    )
    network = _network(cells, wifis)
    if network is not None:
        attributes["network"] = network
    lat_text, lon_text = params.get("lat"), params.get("lon")
    if "location" in params:
        lat_text, _, lon_text = params["location"].partition(",")
    if not lat_text or not lon_text:
        return device_id, AppFix(None, attributes)
    speed_text = params.get("speed")
    speed = _known_or_none(None if speed_text is None else _number("speed", speed_text))
    heading = params.get("bearing", params.get("heading"))
    battery = _known_or_none(_number("batt", params["batt"]) if "batt" in params else None)
    fix = Fix(
        recorded_at=recorded_at,
        lon=_number("lon", lon_text),
        lat=_number("lat", lat_text),
        accuracy_m=_known_or_none(_number("accuracy", params["accuracy"]))
        if "accuracy" in params
        else None,
        speed_mps=None if speed is None else speed * SPEED_TO_MPS[speed_unit],
        heading_deg=_known_or_none(None if heading is None else _number("bearing", heading)),
        altitude_m=_number("altitude", params["altitude"]) if "altitude" in params else None,
        battery=None if battery is None else battery / 100.0,
    )
    return device_id, AppFix(fix, attributes)


class _Coords(msgspec.Struct):
    latitude: float
    longitude: float
    accuracy: float | None = None
    speed: float | None = None
    heading: float | None = None
    altitude: float | None = None


class _Battery(msgspec.Struct):
    level: float | None = None
    is_charging: bool | None = None


class _Activity(msgspec.Struct):
    type: str | None = None


class _Location(msgspec.Struct):
    coords: _Coords
    timestamp: str | None = None
    is_moving: bool | None = None
    event: str | None = None
    odometer: float | None = None
    mock: bool | None = None
    battery: _Battery | None = None
    activity: _Activity | None = None
    extras: dict[str, Any] | None = None


class _Body(msgspec.Struct):
    location: _Location | list[msgspec.Raw]  # in a list, each is read (or refused) alone
    device_id: str | None = None


_decode_body = jsonin.Decoder(msgspec.json.Decoder(_Body)).decode
_decode_location = jsonin.Decoder(msgspec.json.Decoder(_Location)).decode


def _json_attributes(location: _Location) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if location.is_moving is not None:
        attributes["motion"] = location.is_moving
    if location.event is not None:
        attributes["event"] = location.event
    if location.odometer is not None:
        attributes["odometer"] = location.odometer
    if location.mock is not None:
        attributes["mock"] = location.mock
    if location.battery is not None and location.battery.is_charging:
        attributes["charge"] = True
    if location.activity is not None and location.activity.type is not None:
        attributes["activity"] = location.activity.type
    for key, value in (location.extras or {}).items():
        if isinstance(value, (str, bool, int, float)):
            attributes[key] = value  # like the reference: no nulls, objects or arrays
    return jsonin.storable_attributes(attributes)


def _json_fix(location: _Location, received_at: datetime, zone: tzinfo) -> AppFix:
    c = location.coords
    level = None if location.battery is None else _known_or_none(location.battery.level)
    fix = Fix(
        recorded_at=parse_time(location.timestamp or "", received_at, zone),
        lon=c.longitude,
        lat=c.latitude,
        accuracy_m=_known_or_none(c.accuracy),
        speed_mps=_known_or_none(c.speed),
        heading_deg=_known_or_none(c.heading),
        altitude_m=c.altitude,
        battery=level,
    )
    return AppFix(fix, _json_attributes(location))


def decode_json(
    body: bytes, received_at: datetime, zone: tzinfo, max_locations: int
) -> tuple[str, list[AppFix]]:
    """A Transistorsoft JSON body -> (device id, fixes). Raises ProtocolError when the body
    cannot be read or lists more than `max_locations`; in a list of locations, one that
    cannot be read is `rejected` alone."""
    try:
        decoded = _decode_body(body)
    except msgspec.DecodeError as exc:
        raise ProtocolError(400, f"invalid JSON location: {exc}") from None
    device_id = _device_id(decoded.device_id)
    if isinstance(decoded.location, _Location):
        return device_id, [_json_fix(decoded.location, received_at, zone)]
    if len(decoded.location) > max_locations:  # each is decoded alone: bound the work
        raise ProtocolError(400, f"too many locations: {len(decoded.location)} > {max_locations}")
    fixes = []
    for i, raw in enumerate(decoded.location):
        try:
            fixes.append(_json_fix(_decode_location(raw), received_at, zone))
        except (msgspec.DecodeError, ProtocolError) as exc:
            fixes.append(AppFix(None, rejected=f"location[{i}]: {exc}"))
    return device_id, fixes
