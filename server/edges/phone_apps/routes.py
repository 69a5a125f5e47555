"""Endpoints for existing phone apps: `/osmand` (Traccar Client and other OsmAnd-protocol
apps) and `/owntracks` (OwnTracks in HTTP mode).

Unlike the reference server, the answer is 200 only once the fix is committed: the apps
delete a buffered fix as soon as they see 200. A fix our plausibility rules reject is also
answered 200 (nothing stored, the reason in the metrics and the log; for OwnTracks, whose
requests carry the driver's token, also in `X-Tracker-Rejected`): these apps resend a
refused fix forever and queue every later fix behind it.

OsmAnd requests carry no password, so the device id is the secret: an unknown id gets the
same answer as a known one, and failed look-ups are throttled per client address
(device_guard.py). OwnTracks requests must carry the driver's token as the Basic-auth
password; `X-Limit-U`/`X-Limit-D` alone identify only behind an authenticating proxy
(`TRACKER_OWNTRACKS_TRUST_PROXY_IDENTITY`). Known device ids and tokens are resolved from
memory (usecases/driver_cache.py); unknown ones still cost a query each.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from datetime import UTC, datetime
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from geo.model import Fix
from server.base import stage_times
from server.base.dbguard import DatabaseUnavailable
from server.edges.commit_wait import store_and_wait
from server.edges.guards import client_address
from server.edges.phone_apps.basic_logins import BasicLogins
from server.edges.phone_apps.osmand import (
    MAX_PARAMS,
    AppFix,
    ProtocolError,
    decode_json,
    decode_params,
    form_items,
)
from server.edges.responses import FixedResponse, error_response, json_response, request_body
from server.edges.services import Services
from server.store import queries
from server.wire import jsonin

log = logging.getLogger("tracker.apps")

RETRY_HEADERS = {"Retry-After": "5"}
# One OwnTracks message is one location, a few hundred bytes; read before its password is
# checked (its type decides whether one is needed), so kept small.
OWNTRACKS_MAX_BODY_BYTES = 16 * 1024
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="tracker"'}
# The usual answers, built once (a Response's send changes nothing of it).
OSMAND_OK = FixedResponse(b"", 200, media_type="text/plain")
OWNTRACKS_OK = FixedResponse(b"[]", 200, media_type="application/json")


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


async def _store(
    services: Services, driver: queries.Driver, app_fixes: list[AppFix], app: str
) -> dict[str, str] | None:
    """Store the fixes (sent by `app`) and wait for the commit. Returns the headers for a
    200 answer (naming rejected fixes), or None when storage did not answer in time (503)."""
    fixes = [(i, a.fix) for i, a in enumerate(app_fixes) if a.fix is not None]
    unreadable = [a.rejected for a in app_fixes if a.rejected is not None]
    rejected: list[str] = []
    if fixes:  # else cell/Wi-Fi only: nothing we can place; acknowledged, nothing stored
        attributes = {i: a.attributes for i, a in enumerate(app_fixes) if a.attributes}
        outcome = await store_and_wait(services.pipeline, driver, fixes, attributes, app=app)
        if outcome.timed_out:
            return None
        rejected = [r.reason for r in outcome.rejected]
    if not unreadable and not rejected:
        return {}
    reasons = "; ".join(unreadable + rejected)[:500]
    log.info("driver %d (phone app): fixes rejected: %s", driver.id, reasons)  # ids are secret
    return {"X-Tracker-Rejected": reasons.encode("ascii", "replace").decode()}


async def osmand(request: Request) -> Response:
    services: Services = request.app.state.services
    settings = services.settings
    received_at = datetime.now(UTC)
    body = await request_body(request, settings.max_frame_bytes)
    if body is None:
        return error_response(413, f"body over {settings.max_frame_bytes} bytes")
    zone = _zone(settings.naive_time_zone)
    is_json = "json" in request.headers.get("content-type", "")
    decoding = perf_counter()
    try:
        if is_json:
            device_id, app_fixes = decode_json(
                body, received_at, zone, settings.max_fixes_per_message
            )
        else:
            # As Starlette's query_params reads it (latin-1, then unquoted as UTF-8).
            items = form_items(request.scope["query_string"].decode("latin-1"))
            if not items and body:
                items = _form_items(body)
            device_id, app_fix = decode_params(items, received_at, settings.osmand_speed_unit, zone)
            app_fixes = [app_fix]
    except ProtocolError as exc:
        services.metrics.frames_invalid.inc()
        return error_response(exc.status, str(exc))
    services.metrics.stages.seconds[stage_times.DECODE] += perf_counter() - decoding
    client = client_address(request)
    retry_after_s = services.devices.retry_after_s(client)
    if retry_after_s > 0:  # the same for every device id: see device_guard.py
        return _too_many(retry_after_s)
    started_m = time.monotonic()  # known and unknown ids: both answer times count from here
    try:
        driver = await services.drivers.by_device_id(device_id)  # known: no query
    except DatabaseUnavailable:
        services.devices.found(client)  # no answer is no failure
        raise  # the app's 503
    if driver is None:
        # Answered as a stored fix is, after as long, and nothing stored (device_guard.py).
        spent_s = time.monotonic() - started_m  # the look-up a known id (in memory) skips
        await asyncio.sleep(max(0.0, services.devices.decoy_wait_s() - spent_s))
        return OSMAND_OK
    services.devices.found(client)
    headers = await _store(services, driver, app_fixes, "traccar_client")
    if headers is None:
        return error_response(503, "storage is behind; resend later", RETRY_HEADERS)
    services.devices.answered(time.monotonic() - started_m)
    return OSMAND_OK  # rejections unsaid: an unknown id could not say them


def _form_items(body: bytes) -> list[tuple[str, str]]:
    """A form body's parameters, refused past MAX_PARAMS before they are all split."""
    try:
        return form_items(body.decode("utf-8", "replace"), MAX_PARAMS)
    except ValueError:  # "Max number of fields exceeded"
        raise ProtocolError(400, f"more than {MAX_PARAMS} parameters") from None


def _too_many(retry_after_s: float) -> Response:
    """The answer once an address spent its failed look-ups (unknown OsmAnd ids, wrong
    OwnTracks logins): the same for every device id, so it tells nothing either."""
    return error_response(
        429,
        "too many failed device look-ups from this address; retry later",
        {"Retry-After": str(int(retry_after_s) + 1)},
    )


class OwnTracksLocation(msgspec.Struct):
    """An OwnTracks message with `"_type": "location"` (the rest is kept as attributes)."""

    lat: float
    lon: float
    tst: float
    acc: float | None = None
    alt: float | None = None
    vel: float | None = None  # km/h
    cog: float | None = None
    batt: float | None = None  # percent


class OwnTracksType(msgspec.Struct):
    """Any OwnTracks message; those not of `_type` location are accepted and ignored."""

    type: str | None = msgspec.field(default=None, name="_type")


_OWNTRACKS_FIELDS = {"_type", "lat", "lon", "tst", "acc", "alt", "vel", "cog", "batt"}
# Built once: msgspec.json.decode(type=...) looks the type up on every call.
_owntracks_type = jsonin.Decoder(msgspec.json.Decoder(OwnTracksType))
_owntracks_location = jsonin.Decoder(msgspec.json.Decoder(OwnTracksLocation))
_owntracks_members = jsonin.Decoder(msgspec.json.Decoder(dict[str, Any]))


def _owntracks_identity(
    request: Request, logins: BasicLogins, trust_proxy: bool
) -> tuple[list[str], str | None, str]:
    """Device ids to try ("user/device", then "user"), the hash of the password (the
    driver's token; None when `trust_proxy` lets the proxy's X-Limit headers identify
    alone) and the Basic credentials it came from; no ids when the request does not
    identify itself well enough (401)."""
    headers = request.headers
    user = headers.get("x-limit-u")
    device = headers.get("x-limit-d")
    token_hash = None
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user_text, token_hash = logins.decode(value)
        except ValueError:
            return [], None, ""
        user = user_text or user
    if token_hash is None:
        if not trust_proxy:
            return [], None, ""  # the token is the credential; a name alone proves nothing
        user = headers.get("x-limit-u")  # the proxy's, not the client's claim
    if not user or not user.isprintable() or (device is not None and not device.isprintable()):
        return [], None, ""
    candidates = [f"{user}/{device}"] if device else []
    candidates.append(user)
    return candidates, token_hash, value if token_hash is not None else ""


def _owntracks_message(body: bytes) -> tuple[str | None, dict[str, Any]]:
    """An OwnTracks message's `_type` and its members. Raises msgspec.DecodeError, in the
    words of OwnTracksType's decoder, when the body is no such message."""
    try:
        members = _owntracks_members.decode(body)
    except msgspec.DecodeError:
        _owntracks_type.decode(body)  # the same bodies fail; its words say `_type`'s
        raise
    kind = members.get("_type")
    if kind is not None and not isinstance(kind, str):
        return _owntracks_type.decode(body).type, members  # raises, saying what it expects
    return kind, members


def _owntracks_fix(body: bytes, members: dict[str, Any]) -> AppFix:
    location = _owntracks_location.decode(body)
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
        for k, v in members.items()
        if k not in _OWNTRACKS_FIELDS and isinstance(v, (str, bool, int, float))
    }
    return AppFix(fix, jsonin.storable_attributes(attributes))


async def _owntracks_driver(
    services: Services, candidates: list[str], token_hash: str | None
) -> queries.Driver | None:
    """The driver a request identifies: the token's, when one of the names is its device
    id; without a password (behind a trusted proxy), the first name that is a device id.
    A wrong token is answered without looking any name up: how long that takes cannot
    tell which device ids exist. Known tokens and ids come from memory (driver_cache.py)."""
    if token_hash is not None:
        driver = await services.drivers.by_token_hash(token_hash)
        return driver if driver is not None and driver.device_id in candidates else None
    for device_id in candidates:
        if (driver := await services.drivers.by_device_id(device_id)) is not None:
            return driver
    return None


async def owntracks(request: Request) -> Response:
    services: Services = request.app.state.services
    body = await request_body(request, OWNTRACKS_MAX_BODY_BYTES)
    if body is None:
        return error_response(413, f"body over {OWNTRACKS_MAX_BODY_BYTES} bytes")
    if not body.strip():
        return OWNTRACKS_OK
    decoding = perf_counter()
    try:
        kind, members = _owntracks_message(body)
    except msgspec.DecodeError as exc:
        return error_response(400, f"invalid JSON: {exc}")
    if kind != "location":
        return OWNTRACKS_OK  # transitions, waypoints, cards...: accepted and ignored
    try:
        app_fix = _owntracks_fix(body, members)
    except (msgspec.DecodeError, ValueError, OverflowError, OSError) as exc:
        return error_response(400, f"invalid location: {exc}")
    services.metrics.stages.seconds[stage_times.DECODE] += perf_counter() - decoding
    candidates, token_hash, credentials = _owntracks_identity(
        request, services.logins, services.settings.owntracks_trust_proxy_identity
    )
    if not candidates:
        return error_response(
            401, "identify with HTTP Basic auth: the driver's token as password", BASIC_CHALLENGE
        )
    client = client_address(request)
    retry_after_s = services.devices.retry_after_s(client)
    if retry_after_s > 0:
        return _too_many(retry_after_s)
    try:
        driver = await _owntracks_driver(services, candidates, token_hash)
    except DatabaseUnavailable:
        services.devices.found(client)  # no answer is no failure
        raise  # the app's 503
    # An unknown device and a wrong password get the same answer: device ids stay unknown.
    if driver is None:
        services.logins.failed(credentials)
        return error_response(
            401, "unknown device or wrong password (use the driver's token)", BASIC_CHALLENGE
        )
    services.devices.found(client)
    if credentials:
        services.logins.worked(credentials)
    headers = await _store(services, driver, [app_fix], "owntracks")
    if headers is None:
        return error_response(503, "storage is behind; resend later", RETRY_HEADERS)
    return json_response([], headers=headers) if headers else OWNTRACKS_OK
