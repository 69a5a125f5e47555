"""Endpoints for existing phone apps: `/osmand` (Traccar Client and other OsmAnd-protocol
apps) and `/owntracks` (OwnTracks in HTTP mode).

Unlike the reference server, the answer is 200 only once the fix is committed: the apps
delete a buffered fix as soon as they see 200. A fix our plausibility rules reject is also
answered 200 (nothing stored, the reason in `X-Tracker-Rejected` and the metrics): these
apps resend a refused fix forever and queue every later fix behind it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import msgspec
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from geo.model import Fix
from server import jsonin
from server.auth import hash_token
from server.ingest.osmand_decode import AppFix, ProtocolError, decode_json, decode_params
from server.ingest.stored import store_and_wait
from server.responses import error_response, json_response, read_body
from server.services import Services
from server.store import queries

log = logging.getLogger("tracker.apps")

RETRY_HEADERS = {"Retry-After": "5"}
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="tracker"'}


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


async def _store(
    services: Services, driver: queries.Driver, app_fixes: list[AppFix]
) -> dict[str, str] | None:
    """Store the fixes and wait for the commit. Returns the headers for a 200 answer (naming
    rejected fixes), or None when storage did not answer in time (answer 503)."""
    fixes = [(i, a.fix) for i, a in enumerate(app_fixes) if a.fix is not None]
    unreadable = [a.rejected for a in app_fixes if a.rejected is not None]
    rejected: list[str] = []
    if fixes:  # else cell/Wi-Fi only: nothing we can place; acknowledged, nothing stored
        attributes = {i: a.attributes for i, a in enumerate(app_fixes) if a.attributes}
        outcome = await store_and_wait(services.pipeline, driver, fixes, attributes)
        if outcome.timed_out:
            return None
        rejected = [r.reason for r in outcome.rejected]
    if not unreadable and not rejected:
        return {}
    reasons = "; ".join(unreadable + rejected)
    log.info("device %s: fixes rejected: %s", driver.device_id, reasons)
    return {"X-Tracker-Rejected": reasons[:500].encode("ascii", "replace").decode()}


async def osmand(request: Request) -> Response:
    services: Services = request.app.state.services
    settings = services.settings
    received_at = datetime.now(UTC)
    body = await read_body(request.stream(), settings.max_frame_bytes)
    if body is None:
        return error_response(413, f"body over {settings.max_frame_bytes} bytes")
    zone = _zone(settings.naive_time_zone)
    is_json = "json" in request.headers.get("content-type", "")
    try:
        if is_json:
            device_id, app_fixes = decode_json(body, received_at, zone)
        else:
            items = request.query_params.multi_items()
            if not items and body:
                items = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            device_id, app_fix = decode_params(items, received_at, settings.osmand_speed_unit, zone)
            app_fixes = [app_fix]
    except ProtocolError as exc:
        services.metrics.frames_invalid.inc()
        return error_response(exc.status, str(exc))
    try:
        async with services.pool.acquire() as conn:
            driver = await queries.driver_by_device_id(conn, device_id)
    except Exception:
        return error_response(503, "database unavailable, retry later", RETRY_HEADERS)
    if driver is None:
        # The protocol's answers: 400 for the query form, 404 for JSON.
        return error_response(404 if is_json else 400, f"unknown device {device_id[:64]!r}")
    headers = await _store(services, driver, app_fixes)
    if headers is None:
        return error_response(503, "storage is behind; resend later", RETRY_HEADERS)
    return PlainTextResponse("", 200, headers)


class _OwnTracksLocation(msgspec.Struct):
    lat: float
    lon: float
    tst: float
    acc: float | None = None
    alt: float | None = None
    vel: float | None = None  # km/h
    cog: float | None = None
    batt: float | None = None  # percent


class _OwnTracksType(msgspec.Struct):
    type: str | None = msgspec.field(default=None, name="_type")


_OWNTRACKS_FIELDS = {"_type", "lat", "lon", "tst", "acc", "alt", "vel", "cog", "batt"}


def _owntracks_identity(request: Request) -> tuple[list[str], str | None]:
    """Device ids to try ("user/device", then "user") and the Basic-auth password, if any."""
    user = request.headers.get("x-limit-u")
    device = request.headers.get("x-limit-d")
    password = None
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            user_text, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user_text = ""
        user = user_text or user
    candidates = [f"{user}/{device}"] if user and device else []
    if user:
        candidates.append(user)
    return candidates, password or None


def _owntracks_fix(body: bytes) -> AppFix:
    location = jsonin.decode(body, _OwnTracksLocation)
    extras = jsonin.decode(body, dict[str, Any])
    fix = Fix(
        recorded_at=datetime.fromtimestamp(location.tst, UTC),
        lon=location.lon,
        lat=location.lat,
        accuracy_m=location.acc,
        speed_mps=None if location.vel is None or location.vel < 0 else location.vel / 3.6,
        heading_deg=None if location.cog is None or location.cog < 0 else location.cog,
        altitude_m=location.alt,
        battery=None if location.batt is None or location.batt < 0 else location.batt / 100.0,
    )
    attributes = {
        k: v
        for k, v in extras.items()
        if k not in _OWNTRACKS_FIELDS and isinstance(v, (str, bool, int, float))
    }
    return AppFix(fix, jsonin.storable_attributes(attributes))


async def owntracks(request: Request) -> Response:
    services: Services = request.app.state.services
    body = await read_body(request.stream(), services.settings.max_frame_bytes)
    if body is None:
        return error_response(413, f"body over {services.settings.max_frame_bytes} bytes")
    if not body.strip():
        return json_response([])
    try:
        kind = jsonin.decode(body, _OwnTracksType).type
    except msgspec.DecodeError as exc:
        return error_response(400, f"invalid JSON: {exc}")
    if kind != "location":
        return json_response([])  # transitions, waypoints, cards...: accepted and ignored
    try:
        app_fix = _owntracks_fix(body)
    except (msgspec.DecodeError, ValueError, OverflowError, OSError) as exc:
        return error_response(400, f"invalid location: {exc}")
    candidates, password = _owntracks_identity(request)
    if not candidates:
        return error_response(401, "identify with HTTP Basic auth or X-Limit-U", BASIC_CHALLENGE)
    try:
        async with services.pool.acquire() as conn:
            driver = None
            for device_id in candidates:
                driver = await queries.driver_by_device_id(conn, device_id)
                if driver is not None:
                    break
            by_token = (
                None
                if password is None
                else await queries.driver_by_token_hash(conn, hash_token(password))
            )
    except Exception:
        return error_response(503, "database unavailable, retry later", RETRY_HEADERS)
    if driver is None:
        return error_response(404, f"no driver has device id {candidates[0][:64]!r}")
    if password is not None and (by_token is None or by_token.id != driver.id):
        return error_response(401, "wrong password: use the driver's token", BASIC_CHALLENGE)
    headers = await _store(services, driver, [app_fix])
    if headers is None:
        return error_response(503, "storage is behind; resend later", RETRY_HEADERS)
    return json_response([], headers=headers)
