"""Plausibility filters for incoming fixes: pure functions and a small per-driver state.

Each rule has a stable name; a rejection carries the name and a human-readable detail,
so a courier app (and the metrics) can say which rule a fix broke.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from geo.distance import haversine_m
from geo.model import Fix


@dataclass(frozen=True, slots=True)
class Limits:
    max_age_s: float = 7 * 86_400.0
    max_future_s: float = 300.0
    max_accuracy_m: float = 1_000.0
    # Fastest plausible movement between two fixes (~200 km/h); faster jumps are glitches.
    max_speed_mps: float = 55.0
    # Jumps shorter than this are never called teleports (covers poor fixes at low speed).
    teleport_min_jump_m: float = 250.0
    max_reported_speed_mps: float = 150.0
    min_altitude_m: float = -1_000.0
    max_altitude_m: float = 20_000.0
    reject_null_island: bool = True


@dataclass(frozen=True, slots=True)
class Rejection:
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


def check_fix(fix: Fix, received_at: datetime, limits: Limits) -> Rejection | None:
    """Rules that need only the fix itself and the server's clock.

    >>> from datetime import UTC
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> check_fix(Fix(now, 0.0, 91.0), now, Limits()).rule
    'lat_range'
    """
    for name, value in (
        ("lat", fix.lat),
        ("lon", fix.lon),
        ("acc", fix.accuracy_m),
        ("speed", fix.speed_mps),
        ("heading", fix.heading_deg),
        ("alt", fix.altitude_m),
        ("battery", fix.battery),
    ):
        if value is not None and not math.isfinite(value):
            return Rejection("not_finite", f"{name} must be a finite number")
    if not -90.0 <= fix.lat <= 90.0:
        return Rejection("lat_range", f"lat {fix.lat} is outside -90..90")
    if not -180.0 <= fix.lon <= 180.0:
        return Rejection("lon_range", f"lon {fix.lon} is outside -180..180")
    if limits.reject_null_island and fix.lat == 0.0 and fix.lon == 0.0:
        return Rejection("null_island", "0,0 is a receiver's placeholder, not a position")
    age_s = (received_at - fix.recorded_at).total_seconds()
    if age_s > limits.max_age_s:
        return Rejection("too_old", f"recorded {age_s:.0f} s ago, limit {limits.max_age_s:.0f} s")
    if -age_s > limits.max_future_s:
        return Rejection(
            "in_future",
            f"recorded {-age_s:.0f} s ahead of the server clock, limit {limits.max_future_s:.0f} s",
        )
    if fix.accuracy_m is not None and not 0.0 <= fix.accuracy_m <= limits.max_accuracy_m:
        return Rejection(
            "accuracy", f"acc {fix.accuracy_m} m is outside 0..{limits.max_accuracy_m:.0f} m"
        )
    if fix.speed_mps is not None and not 0.0 <= fix.speed_mps <= limits.max_reported_speed_mps:
        return Rejection(
            "speed_range",
            f"speed {fix.speed_mps} m/s is outside 0..{limits.max_reported_speed_mps:.0f} m/s",
        )
    if fix.heading_deg is not None and not 0.0 <= fix.heading_deg <= 360.0:
        return Rejection("heading_range", f"heading {fix.heading_deg} is outside 0..360")
    if fix.altitude_m is not None and not (
        limits.min_altitude_m <= fix.altitude_m <= limits.max_altitude_m
    ):
        return Rejection("alt_range", f"alt {fix.altitude_m} m is implausible")
    if fix.battery is not None and not 0.0 <= fix.battery <= 1.0:
        return Rejection("battery_range", f"battery {fix.battery} is outside 0..1")
    return None


def jump_rejection(fix: Fix, previous: Fix, limits: Limits) -> Rejection | None:
    """A teleport: `fix` is too far from the earlier `previous` for the time between them.

    Fixes not newer than `previous` are not judged here (late fixes carry no motion).
    A jump is longer than `teleport_min_jump_m` and faster than `max_speed_mps` (the rule
    that flags the glitches in the shared traces); the receivers' reported accuracy is
    subtracted first, so two vague fixes are not a jump.
    """
    dt_s = (fix.recorded_at - previous.recorded_at).total_seconds()
    if dt_s < 0:
        return None
    distance_m = haversine_m(previous.lon, previous.lat, fix.lon, fix.lat)
    # Part of the distance may be receiver error; only the rest must be explained by motion.
    moved_m = distance_m - (fix.accuracy_m or 0.0) - (previous.accuracy_m or 0.0)
    if moved_m <= limits.teleport_min_jump_m or moved_m <= limits.max_speed_mps * dt_s:
        return None
    speed = "instantly" if dt_s == 0 else f"in {dt_s:.0f} s ({distance_m / dt_s:.0f} m/s)"
    return Rejection("teleport", f"jumped {distance_m:.0f} m {speed} from the previous fix")


class DriverFilter:
    """Per-driver plausibility state: the newest accepted fix, for the jump rule.

    A fix that jumps is rejected. If the newest accepted fix was itself the glitch (a first
    fix far off, say), every true fix would then be rejected forever; so rejected jumps are
    kept, and once `reanchor_after` of them in a row agree with each other (a consistent
    track, not a one-off glitch) the last is accepted and becomes the new reference.
    """

    __slots__ = ("_rejected_run", "latest", "limits", "reanchor_after")

    def __init__(self, limits: Limits, latest: Fix | None = None, reanchor_after: int = 3) -> None:
        self.limits = limits
        self.latest = latest
        self.reanchor_after = reanchor_after
        self._rejected_run: list[Fix] = []

    def check(self, fix: Fix, received_at: datetime) -> Rejection | None:
        """Judge `fix`; on acceptance, remember it if it is the newest."""
        rejection = check_fix(fix, received_at, self.limits)
        if rejection is not None:
            return rejection
        latest = self.latest
        if latest is not None:
            rejection = jump_rejection(fix, latest, self.limits)
            if rejection is not None and not self._extends_rejected_run(fix):
                return rejection
        self._rejected_run.clear()
        if latest is None or fix.recorded_at > latest.recorded_at:
            self.latest = fix
        return None

    def _extends_rejected_run(self, fix: Fix) -> bool:
        """Record a jumping fix; True when it completes a consistent run of them."""
        run = self._rejected_run
        if run and (
            fix.recorded_at <= run[-1].recorded_at
            or jump_rejection(fix, run[-1], self.limits) is not None
        ):
            run.clear()
        run.append(fix)
        return len(run) >= self.reanchor_after
