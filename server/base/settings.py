"""Configuration, read from the environment once into a frozen object.

Every threshold is a named field with its unit in the name; the defaults are the
documented ones (README, "Configuration").
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from server.base.environment import (
    FILE_SUFFIX,
    EnvironmentValueError,
    parse_bool,
    parse_choice,
    parse_float,
    parse_int,
    read_secret,
    unknown_variables,
)
from server.base.settings_rules import (
    CHOICES,
    SECRETS,
    TOOL_VARIABLES,
    SettingsError,
    check_settings,
    variable,
)

__all__ = ["DEFAULT_DATABASE_URL", "SECRETS", "Settings", "SettingsError", "variable"]

log = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/tracker"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    admin_token: str | None = None
    metrics_token: str | None = None  # bearer token for GET /metrics (the admin key also works)
    bus: str = "memory"  # TRACKER_BUS: "memory" (in-process) or redis://…
    host: str = "127.0.0.1"
    port: int = 8000
    # Reverse proxies whose X-Forwarded-For/-Proto are believed (addresses or CIDR networks,
    # comma-separated); empty: none, the peer address is the client's.
    trusted_proxies: str = ""
    # Log lines as `text` or `json` (one object a line); the level is `serve --log-level`.
    log_format: str = "text"

    # Group commit: a batch (at most this many fixes) starts once the writer is free and,
    # under load (the last batch held more than one fix), the last one started at least
    # `batch_min_interval_ms` ago; a linger > 0 holds one that is not full until its oldest
    # fix waited this long.
    batch_max_rows: int = 1000
    batch_min_interval_ms: float = 5.0
    batch_max_wait_ms: float = 0.0
    # Fixes accepted but not yet stored; beyond this, courier sockets stop being read.
    write_queue_max_rows: int = 20_000
    # Requests, sockets' connect-time reads and the writer share it (4 was too few: bench).
    db_pool_size: int = 10
    db_command_timeout_s: float = 10.0
    db_retry_max_s: float = 2.0
    # A request's (or socket's) database work waits at most this long, then answers 503.
    db_request_timeout_s: float = 3.0

    # Plausibility limits for incoming fixes.
    max_fix_age_s: float = 7 * 86_400.0
    max_fix_future_s: float = 300.0
    max_accuracy_m: float = 1_000.0
    max_speed_mps: float = 55.0
    teleport_min_jump_m: float = 250.0

    reject_null_island: bool = True  # 0,0 is usually a receiver's placeholder

    # Phone-app protocols.
    osmand_speed_unit: str = "kn"  # kn | kmh | mps | mph, for the query form's `speed`
    naive_time_zone: str = "UTC"  # zone for zone-less OsmAnd times ("2014-06-04 09:10:11")
    # Failed device look-ups (unknown OsmAnd ids, wrong OwnTracks credentials) per client
    # address; beyond them every phone-app request from that address gets 429.
    device_lookup_failures_per_min: float = 6.0
    device_lookup_failure_burst: int = 20
    # OwnTracks' X-Limit-U/X-Limit-D identify without a password: only behind a proxy that
    # authenticates the user and sets them itself.
    owntracks_trust_proxy_identity: bool = False

    # Wire limits.
    max_frame_bytes: int = 256 * 1024
    max_fixes_per_message: int = 1_000
    ws_ping_interval_s: float = 20.0

    # Client connections (server/edges/net/connections.py): a request's head must be complete this
    # soon after the connection opens (or its first byte, on a kept-alive connection);
    # connections over a limit are refused at once with 503. 0 connections: the process's
    # open-file limit less 256. The address is the socket's peer (behind a proxy, the proxy).
    header_timeout_s: float = 10.0
    max_connections: int = 0
    max_connections_per_address: int = 1_000

    # Orders and tracking links.
    public_base_url: str = ""  # where customers reach the pages; default http://host:port
    tracking_link_ttl_s: float = 7 * 86_400.0  # after delivery/cancellation/return
    track_lookups_per_min: float = 30.0  # per client address, tracking-code lookups
    track_lookup_burst: int = 10
    courier_next_stop_only: bool = False  # show the courier only to the run's next stop
    # A customer sees no route vertex and no courier position this close to another stop.
    customer_route_clearance_m: float = 300.0
    # Stops one driver's run may hold (assigning beyond it is a 422). A change to a run costs
    # the server time in proportion to its stops (its tracker is rebuilt): this bounds it.
    max_stops_per_run: int = 1_000
    # A courier's action (arrived/delivered/failed) further than this from the destination
    # is flagged on the timeline and raises a dispatcher alert.
    action_far_m: float = 150.0

    # Proof of delivery (POST /api/orders/{id}/proof, multipart): each image at most this
    # many bytes and pixels (decompression bombs are refused before decoding), the form at
    # most this many parts with text fields this long. Photos are stored re-encoded with
    # their long edge at most `proof_photo_max_px`, with a `proof_thumb_px` thumbnail;
    # at most `proof_concurrency` uploads decode at once (in threads, off the event loop).
    proof_max_photo_bytes: int = 8 * 1024 * 1024
    proof_max_pixels: int = 50_000_000
    proof_max_parts: int = 8
    proof_max_field_bytes: int = 1_024
    proof_photo_max_px: int = 2_048
    proof_thumb_px: int = 320
    proof_concurrency: int = 2
    proof_photo_to_customer: bool = True  # the customer's tracking link shows the photo
    # Delivery PINs (orders created with "delivery_pin": true): digits, and wrong tries
    # before the PIN locks (the dispatcher is alerted).
    delivery_pin_digits: int = 4
    delivery_pin_max_tries: int = 5
    # History exports (`/api/drivers/{id}/track`, `/api/orders?format=csv`): the longest
    # range one driver's track may cover, and the time one export stream may take in all
    # (it holds a pooled connection: a client that reads slowly is cut off there).
    track_max_range_h: float = 48.0
    export_timeout_s: float = 120.0

    # ETAs.
    stop_service_s: float = 120.0  # time spent at each stop handing over a parcel
    detour_factor: float = 1.3  # provisional routes: straight line times this

    # Notifications. A channel is off until configured (SMTP host, SMS base URL).
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_security: str = "starttls"  # starttls | tls | none
    mail_from: str = "tracking@localhost"
    support_email: str = ""  # where problems customers report are emailed (none: not sent)
    sms_base_url: str = ""  # Twilio-style API root, e.g. https://api.twilio.com
    sms_account_sid: str = ""
    sms_auth_token: str = ""
    sms_from: str = ""
    templates_dir: str = ""  # operator overrides: files here win over the built-in ones
    quiet_hours: str = ""  # e.g. "21:00-08:00" in the customer's zone; empty: none
    default_time_zone: str = "UTC"  # for customers without one
    delay_margin_s: float = 300.0  # "delayed" once the ETA passes the promise by this much
    notify_enabled: bool = True  # this process sends; off: it only writes the outbox
    notify_max_attempts: int = 8
    notify_backoff_s: float = 5.0  # first retry delay; doubles per attempt
    notify_backoff_max_s: float = 3_600.0
    notify_poll_interval_s: float = 1.0
    notify_send_timeout_s: float = 15.0
    webhook_disable_after: int = 20  # consecutive failed deliveries
    # Loopback/private/link-local addresses webhooks may reach anyway (addresses or CIDR
    # networks, comma-separated); empty: public addresses only.
    webhook_allow_private: str = ""

    # Pages. The map's tiles: an http(s) template, raster or vector (.pbf/.mvt); empty: the
    # server's own basemap when its tiles file exists, else OpenStreetMap's raster tiles.
    tile_url: str = ""

    eta_history_days: float = 28.0  # how much history the ETA models learn from
    eta_learn_interval_s: float = 6 * 3_600.0  # how often (once per cluster) they relearn
    eta_reload_interval_s: float = 600.0  # how often each process looks for newer models

    # Live views.
    fleet_interval_ms: float = 1_000.0
    offline_after_s: float = 120.0
    # Dispatchers' alerts: a driver with open stops silent this long is alerted `offline`.
    alert_offline_after_s: float = 300.0
    subscriber_max_pending: int = 256
    ws_send_timeout_s: float = 10.0

    # Several processes (TRACKER_BUS=redis://…).
    bus_prefix: str = "tracker:"  # channel names start with this: deployments sharing a Redis
    bus_queue_max_messages: int = 10_000  # waiting to go to Redis; when full, oldest dropped
    bus_timeout_s: float = 2.0  # per Redis operation: connect, publish batch, ping
    bus_retry_max_s: float = 5.0  # longest wait between reconnection attempts
    bus_presence_ttl_s: float = 30.0  # another process's "courier connected" lasts this long

    # The cyclic garbage collector (server/base/gc_freeze.py): long-lived objects are frozen every
    # freeze interval; everything is collected once per thaw interval (0: never freeze),
    # or sooner once the heap grew by this fraction since the last thaw (0: never).
    gc_freeze_interval_s: float = 1.0
    gc_thaw_interval_s: float = 3_600.0
    gc_thaw_growth: float = 0.5

    # History partitions (one per UTC day) and their retention.
    retention_days: int = 90
    partitions_ahead_days: int = 3
    maintenance_interval_s: float = 3_600.0
    # Messages in the customer's language (issue 17): for orders without a `locale`, and
    # for the support team's email; a BCP 47 tag (server/base/locales.py).
    default_locale: str = "en"

    # Embeddable tracking widget (/embed/{code}): the origins (scheme://host[:port], comma-
    # separated) whose pages may frame it; empty: no other site may.
    embed_origins: str = ""
    # Self-hosted basemap (issue 19): the MBTiles file `tracker tiles build` writes and
    # /tiles/{z}/{x}/{y}.pbf serves (relative: to the working directory), and how long
    # browsers may keep a tile before revalidating it.
    tiles_file: str = ".local/tiles/basemap.mbtiles"
    tiles_max_age_s: float = 3_600.0

    # Routing on the imported road network (issue 19; README, Routing; usecases/routing.py).
    routing_profile: str = "car"  # which `tracker osm import --profile` network legs use
    routing_max_snap_m: float = 250.0  # a point farther than this from a road: provisional
    routing_margin_m: float = 1_500.0  # the subgraph: the points' box widened by this
    routing_timeout_s: float = 5.0  # per leg or matrix, in the database; then provisional
    routing_concurrency: int = 2  # routing queries at once (database connections)
    reroute_min_interval_s: float = 60.0  # per courier: off route re-routes at most this often
    optimize_max_stops: int = 60  # POST /api/drivers/{id}/run/optimize: larger runs are 422

    # Delivery insights (issue 18): the operator's IANA time zone, which days and weeks
    # follow; the longest period one request may cover; how often the ETA shown is
    # sampled per stop out for delivery (for its accuracy at horizons before arrival).
    operator_time_zone: str = "UTC"
    insights_max_range_days: int = 366
    insights_eta_sample_s: float = 60.0
    # Off: nothing new is recorded for the insights (no ETA samples, GPS arrivals, delivery
    # facts, rollups or bottleneck rollup job); orders, ETAs and messages are unchanged.
    insights_recording: bool = True

    # Bottlenecks (GET /api/insights/bottlenecks, /heatmap; server/usecases/insight_rollup.py):
    # longest from..to, most features per answer, the "usual speed" window, how far below it
    # a cell's driven speed is slow and how much travel a cell needs first, the shortest stop
    # that is a dwell; the rollup's round interval, slice and lag behind the clock (fixes
    # recorded earlier than the lag when they arrive miss the rollup).
    bottleneck_max_range_days: int = 92
    bottleneck_max_features: int = 500
    bottleneck_baseline_days: int = 28
    bottleneck_slow_ratio: float = 0.7
    bottleneck_min_steps: int = 20
    bottleneck_dwell_min_s: float = 120.0
    insight_rollup_interval_s: float = 60.0
    insight_rollup_slice_s: float = 3_600.0
    insight_rollup_lag_s: float = 600.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from `TRACKER_*` variables plus `DATABASE_URL` (call it once, at
        start-up: it logs a warning for each unknown `TRACKER_*` variable).

        Field `foo_bar` is read from `TRACKER_FOO_BAR`; `database_url` from `DATABASE_URL`;
        a secret also from the file `…_FILE` names. An empty variable means the default.
        """
        env = os.environ if env is None else env
        for warning in unknown_variables(env, known_variables()):
            log.warning("%s", warning)
        values: dict[str, object] = {}
        try:
            for field in dataclasses.fields(cls):
                name = variable(field.name)
                raw = read_secret(env, name) if field.name in SECRETS else env.get(name)
                if raw is None or raw == "":
                    continue
                if field.name in CHOICES:
                    values[field.name] = parse_choice(name, raw, CHOICES[field.name])
                else:
                    values[field.name] = _parse(name, raw, field.default)
        except EnvironmentValueError as exc:
            raise SettingsError(str(exc)) from None
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    def check(self) -> None:
        """Raise SettingsError naming the variable when a value is out of its range."""
        check_settings(self)


def known_variables() -> frozenset[str]:
    names = {variable(f.name) for f in dataclasses.fields(Settings)}
    files = {variable(name) + FILE_SUFFIX for name in SECRETS}
    return frozenset(names | files | TOOL_VARIABLES)


def _parse(name: str, raw: str, default: object) -> object:
    if isinstance(default, bool):
        return parse_bool(name, raw)
    if isinstance(default, int):
        return parse_int(name, raw)
    if isinstance(default, float):
        return parse_float(name, raw)
    return raw
