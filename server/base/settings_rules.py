"""What the settings may hold: which are secrets, which must be positive, and the checks
run once they are read (Settings.check)."""

from __future__ import annotations

import dataclasses
import math
import os
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.base.locales import canonical
from server.base.networks import parse_networks

if TYPE_CHECKING:
    from server.base.settings import Settings

# Settings that carry a credential: each may also be read from a file, `<VARIABLE>_FILE`.
SECRETS = (
    "database_url",
    "admin_token",
    "metrics_token",
    "bus",
    "smtp_username",
    "smtp_password",
    "sms_account_sid",
    "sms_auth_token",
)
# Read by scripts/ and tests/, not by the server: known, but no setting.
TOOL_VARIABLES = frozenset(
    {"TRACKER_CHROMIUM", "TRACKER_DEMO_COURIERS", "TRACKER_WEB_ARTIFACTS"}
    | {"TRACKER_DEMO_OSM_PBF", "TRACKER_TEST_OSM_PBF"}  # run.sh's basemap, the basemap tests'
)
# Zero would mean a busy loop, an instant timeout, or nothing allowed at all.
POSITIVE = (
    "batch_max_rows",
    "write_queue_max_rows",
    "db_pool_size",
    "max_frame_bytes",
    "max_fixes_per_message",
    "bus_queue_max_messages",
    "bus_timeout_s",
    "db_request_timeout_s",
    "max_stops_per_run",
    "max_connections_per_address",
    "header_timeout_s",
    "max_speed_mps",
    "subscriber_max_pending",
    "ws_send_timeout_s",
    "fleet_interval_ms",
    "notify_max_attempts",
    "notify_poll_interval_s",
    "notify_send_timeout_s",
    "maintenance_interval_s",
    "eta_learn_interval_s",
    "eta_reload_interval_s",
    "retention_days",
    "proof_max_photo_bytes",
    "proof_max_pixels",
    "proof_max_parts",
    "proof_max_field_bytes",
    "proof_photo_max_px",
    "proof_thumb_px",
    "proof_concurrency",
    "delivery_pin_max_tries",
    "alert_offline_after_s",
    "track_max_range_h",
    "export_timeout_s",
    "routing_timeout_s",
    "routing_concurrency",
    "routing_margin_m",
    "routing_max_snap_m",
    "optimize_max_stops",
    "insights_max_range_days",
    "insights_eta_sample_s",
    "bottleneck_max_range_days",
    "bottleneck_max_features",
    "bottleneck_baseline_days",
    "bottleneck_slow_ratio",
    "insight_rollup_interval_s",
    "insight_rollup_slice_s",
)
# Settings taking one word of a fixed set.
CHOICES = {"log_format": ("text", "json"), "routing_profile": ("car", "bike")}


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def variable(field_name: str) -> str:
    """The environment variable a field is read from."""
    return "DATABASE_URL" if field_name == "database_url" else f"TRACKER_{field_name.upper()}"


def check_settings(s: Settings) -> None:
    """Raise SettingsError naming the variable when a value is out of its range."""
    if not s.database_url.startswith(("postgresql://", "postgres://")):
        raise SettingsError("DATABASE_URL must be a postgresql:// URL")
    if s.max_fix_age_s > s.retention_days * 86_400:
        raise SettingsError(
            "TRACKER_MAX_FIX_AGE_S exceeds TRACKER_RETENTION_DAYS: fixes would be stored "
            "into partitions the retention job drops"
        )
    if s.smtp_security not in ("starttls", "tls", "none"):
        raise SettingsError("TRACKER_SMTP_SECURITY must be starttls, tls or none")
    if s.quiet_hours:
        from server.base.quiet_hours import parse_quiet_hours

        try:
            parse_quiet_hours(s.quiet_hours)
        except ValueError as exc:
            raise SettingsError(f"TRACKER_QUIET_HOURS: {exc}") from None
    for list_setting in ("trusted_proxies", "webhook_allow_private"):
        try:
            parse_networks(getattr(s, list_setting))
        except ValueError as exc:
            raise SettingsError(f"TRACKER_{list_setting.upper()}: {exc}") from None
    for zone_setting in ("naive_time_zone", "default_time_zone", "operator_time_zone"):
        try:
            ZoneInfo(getattr(s, zone_setting))
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"TRACKER_{zone_setting.upper()}={getattr(s, zone_setting)!r} is not a time zone"
            ) from None
    try:
        canonical(s.default_locale)
    except ValueError as exc:
        raise SettingsError(f"TRACKER_DEFAULT_LOCALE: {exc}") from None
    if s.bus != "memory" and not s.bus.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError("TRACKER_BUS must be memory or a redis://host:port/db URL")
    for choice_setting, choices in CHOICES.items():
        if getattr(s, choice_setting) not in choices:
            raise SettingsError(f"{variable(choice_setting)} must be one of {', '.join(choices)}")
    if s.osmand_speed_unit not in ("kn", "kmh", "mps", "mph"):
        raise SettingsError("TRACKER_OSMAND_SPEED_UNIT must be kn, kmh, mps or mph")
    _check_numbers(s)
    _check_texts(s)
    if not 0.0 <= s.customer_route_clearance_m < 100_000.0:
        raise SettingsError("TRACKER_CUSTOMER_ROUTE_CLEARANCE_M must be 0..100000 metres")


def _check_numbers(s: Settings) -> None:
    """No number of anything here is negative, infinite or NaN."""
    for field in dataclasses.fields(s):
        value = getattr(s, field.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        name = variable(field.name)
        if not math.isfinite(value) or value < 0:
            raise SettingsError(f"{name}={value!r} must be a finite number, 0 or more")
        if value == 0 and field.name in POSITIVE:
            raise SettingsError(f"{name} must be positive")
    if s.port > 65_535 or not 0 < s.smtp_port <= 65_535:
        raise SettingsError("TRACKER_PORT (0: any free port) and TRACKER_SMTP_PORT: 1..65535")
    if not 4 <= s.delivery_pin_digits <= 6:
        raise SettingsError("TRACKER_DELIVERY_PIN_DIGITS must be 4, 5 or 6")
    if s.proof_thumb_px > s.proof_photo_max_px:
        raise SettingsError("TRACKER_PROOF_THUMB_PX must not exceed TRACKER_PROOF_PHOTO_MAX_PX")
    if s.bottleneck_slow_ratio >= 1.0:
        raise SettingsError("TRACKER_BOTTLENECK_SLOW_RATIO must be below 1 (a fraction)")
    if s.bottleneck_max_features > 10_000:
        raise SettingsError("TRACKER_BOTTLENECK_MAX_FEATURES must be at most 10000")
    if s.insight_rollup_lag_s < 300.0:
        raise SettingsError(
            "TRACKER_INSIGHT_ROLLUP_LAG_S must be 300 or more (a stop is over 300 s after "
            "its last fix)"
        )
    if s.detour_factor < 1.0:
        raise SettingsError("TRACKER_DETOUR_FACTOR must be 1 or more (a route is no shorter)")
    if s.routing_concurrency > s.db_pool_size:
        raise SettingsError(
            "TRACKER_ROUTING_CONCURRENCY must not exceed TRACKER_DB_POOL_SIZE (each routing "
            "query holds a pooled connection; requests need some too)"
        )
    if s.optimize_max_stops > 200:
        raise SettingsError("TRACKER_OPTIMIZE_MAX_STOPS must be 200 or fewer (ordering is cubic)")


def _check_texts(s: Settings) -> None:
    for url_setting in ("public_base_url", "sms_base_url", "tile_url"):
        url = getattr(s, url_setting)
        if url and not _is_http_url(url):
            raise SettingsError(
                f"{variable(url_setting)}={url!r} is not an http:// or https:// URL with a host"
            )
    template = s.tile_url.replace("{-y}", "{y}")  # {-y}: TMS rows, counted upwards
    if s.tile_url and not all(part in template for part in ("{z}", "{x}", "{y}")):
        raise SettingsError("TRACKER_TILE_URL must hold {z}, {x} and {y} (a tile template)")
    # "Shop <tracking@shop.example>" is fine; a line break would start another header.
    for mail in ("mail_from", "support_email"):
        address = getattr(s, mail)
        if (address or mail == "mail_from") and ("@" not in address or not address.isprintable()):
            raise SettingsError(f"{variable(mail)}={address!r} is not an email address")
    try:
        embed_origins(s.embed_origins)
    except ValueError as exc:
        raise SettingsError(f"TRACKER_EMBED_ORIGINS: {exc}") from None
    if not s.tiles_file.strip() or "\0" in s.tiles_file:
        raise SettingsError("TRACKER_TILES_FILE must name a file (an .mbtiles path)")
    if s.templates_dir and not os.path.isdir(s.templates_dir):
        raise SettingsError(f"TRACKER_TEMPLATES_DIR={s.templates_dir!r} is not a directory")


def _is_http_url(raw: str) -> bool:
    try:
        url = urlsplit(raw)
        url.port  # noqa: B018 (raises ValueError for a port that is not 0..65535)
    except ValueError:
        return False
    clean = not any(c.isspace() for c in raw)
    return url.scheme in ("http", "https") and bool(url.hostname) and clean


ORIGIN = re.compile(r"^(https?)://([a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$")


def embed_origins(raw: str) -> list[str]:
    """The origins of TRACKER_EMBED_ORIGINS, lower-cased, each as a CSP source would
    name it; ValueError names the first that is not `http(s)://host[:port]` (no path, no
    wildcard, nothing a Content-Security-Policy header would read as more).

    >>> embed_origins(" https://Shop.example, http://127.0.0.1:8080/ ")
    ['https://shop.example', 'http://127.0.0.1:8080']
    """
    origins: list[str] = []
    for item in raw.split(","):
        origin = item.strip().lower().removesuffix("/")
        if not item.strip():
            continue
        match = ORIGIN.match(origin)
        port = match.group(4) if match else None
        if match is None or (port is not None and not 0 < int(port[1:]) <= 65_535):
            raise ValueError(
                f"{item.strip()!r} is not an origin: write scheme://host[:port], "
                "e.g. https://shop.example (no path, no *), comma-separated"
            )
        origins.append(origin)
    return origins
