"""One driver on one run: fixes in, progress, per-stop ETAs and events out.

Each newer fix is projected once into the run's frame, located along the route, and turned
into an ETA for every remaining stop; events fire once each. A fix not newer than the last
one processed (a late or repeated fix) changes nothing and fires nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from geo.calibration import Calibration
from geo.courier_pace import CourierPace
from geo.eta import HIGH_MAX_SPREAD, EtaGate, StopEta, change_reason, confidence
from geo.events import Event, EventKind
from geo.expected import ExpectedTimes
from geo.frozen import maker
from geo.model import Fix
from geo.motion import Motion
from geo.params import TrackerParams
from geo.progress import Locator, Progress, Transition
from geo.run import PlacedStop, Run
from geo.speed_profile import SpeedProfile, hour_of_week

# Windows for estimates the history did not cover (straight-line guesses) are this much wider.
_UNCOVERED_WIDEN = 1.5


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """The outcome of one fix. `etas` lists the stops not yet reached, in run order."""

    at: datetime
    late: bool
    progress: Progress | None
    etas: tuple[StopEta, ...]
    events: tuple[Event, ...]
    off_route: bool = False
    stopped_s: float = 0.0
    courier_ratio: float = 1.0  # recent elapsed / expected time: > 1 is slower than usual


# Made on every fix (and a StopEta per stop): see geo/frozen.py.
_track_update, _stop_eta = maker(TrackUpdate), maker(StopEta)


@dataclass(slots=True)
class _StopState:
    gate: EtaGate
    published_at: datetime | None = None  # the gate's instant as a datetime, kept
    arrived_at_s: float | None = None
    dwell_since_s: float | None = None
    departed: bool = False
    passed: bool = False
    arriving_sent: bool = False


class Tracker:
    """Per-driver state over one run.

    `profile` is the fleet's learned speed profile and `calibration` its learned ETA error;
    both are optional (fleet-wide defaults are used, and the confidence says so).
    """

    __slots__ = (
        "_last",
        "_last_s",
        "_prior_stopped_s",
        "_stop_expected_s",
        "_stops",
        "calibration",
        "expected",
        "fleet_speed_mps",
        "locator",
        "motion",
        "pace",
        "params",
        "run",
    )

    def __init__(
        self,
        run: Run,
        profile: SpeedProfile | None = None,
        calibration: Calibration | None = None,
        params: TrackerParams | None = None,
    ) -> None:
        self.run = run
        self.params = params = params or TrackerParams()
        self.expected = ExpectedTimes(run.line, run.route, profile)
        self.fleet_speed_mps = self.expected.profile.fleet_speed_mps
        self.calibration = calibration or Calibration.default()
        self.locator = Locator(run.line, params, run.route.provisional)
        self.motion = Motion(params.stop_speed_mps, params.speed_span_s)
        self.pace = CourierPace(params)
        self._stops = [_StopState(EtaGate()) for _ in run.stops]
        self._last_s: float | None = None
        self._last: TrackUpdate | None = None
        self._prior_stopped_s = 0.0
        self._stop_expected_s: dict[int, tuple[float, ...]] = {}

    def update(self, fix: Fix) -> TrackUpdate:
        t = fix.recorded_at.timestamp()
        last = self._last
        if self._last_s is not None and t <= self._last_s and last is not None:
            return _track_update(
                fix.recorded_at, True, last.progress, last.etas, (), last.off_route,
                last.stopped_s, last.courier_ratio,
            )  # fmt: skip
        self._last_s = t
        p = self.params
        x, y = self.run.line.frame.to_xy(fix.lon, fix.lat)  # (MetricLine.to_xy, a call less)
        motion = self.motion
        motion.update(x, y, t, fix.speed_mps, fix.heading_deg)
        stopped_s = motion.stopped_for_s(t)
        if stopped_s == 0.0 and self._prior_stopped_s > p.light_grace_s:
            # A long stop just ended: it was not driving, keep it out of the courier's pace.
            self.pace.exclude(self._prior_stopped_s - p.light_grace_s)
        self._prior_stopped_s = stopped_s
        moving = motion.speed_mps is not None and motion.speed_mps > p.stop_speed_mps
        progress, transition = self.locator.locate(
            x, y, t, fix.accuracy_m, motion.heading if moving else None
        )
        events: list[Event] = []
        if transition is not None:
            kind = (
                EventKind.OFF_ROUTE
                if transition is Transition.OFF_ROUTE
                else EventKind.BACK_ON_ROUTE
            )
            events.append(Event(kind, fix.recorded_at))
        hour = hour_of_week(fix.recorded_at)
        expected_now = self.expected.at(progress.along_m, hour)
        off_route = self.locator.off_route
        if stopped_s == 0.0 and not off_route:
            self.pace.observe(t, expected_now)
        self._check_stops(x, y, t, fix, progress, events)
        etas = self._etas(
            x, y, t, fix.recorded_at, progress, expected_now, hour, stopped_s, transition, events
        )
        update = _track_update(
            fix.recorded_at, False, progress, etas, tuple(events), off_route, stopped_s,
            self.pace.ratio,
        )  # fmt: skip
        self._last = update
        return update

    def _check_stops(
        self, x: float, y: float, t: float, fix: Fix, progress: Progress, events: list[Event]
    ) -> None:
        """Arrived (dwelt inside the radius, slow) and passed (left behind unvisited)."""
        p = self.params
        speed = self.motion.speed_mps
        slow = speed is None or speed <= p.arrived_speed_mps
        radius = p.arrived_radius_m + min(fix.accuracy_m or 0.0, 20.0)
        for placed, state in zip(self.run.stops, self._stops, strict=True):
            distance_m = math.hypot(x - placed.x_m, y - placed.y_m)
            if state.arrived_at_s is not None:
                if not state.departed and distance_m > 2 * radius:
                    state.departed = True
                continue
            # On a loop the stop may lie near the start too: on route, it must also be near
            # in progress along the route.
            near_along = (
                not progress.on_route
                or placed.along_m - progress.along_m <= radius + p.arrived_along_slack_m
            )
            if distance_m <= radius and slow and near_along:
                if state.dwell_since_s is None:
                    state.dwell_since_s = t
                if t - state.dwell_since_s >= p.arrived_dwell_s:
                    state.arrived_at_s = state.dwell_since_s
                    at = datetime.fromtimestamp(state.dwell_since_s, UTC)
                    events.append(Event(EventKind.ARRIVED, at, placed.stop.id))
                continue
            state.dwell_since_s = None
            if (
                not state.passed
                and progress.on_route
                and placed.along_m < progress.along_m - p.passed_margin_m
            ):
                state.passed = True
                events.append(Event(EventKind.PASSED, fix.recorded_at, placed.stop.id))

    def _etas(
        self,
        x: float,
        y: float,
        t: float,
        now: datetime,
        progress: Progress,
        expected_now: float,
        hour: int,
        stopped_s: float,
        transition: Transition | None,
        events: list[Event],
    ) -> tuple[StopEta, ...]:
        p = self.params
        expected = self.expected
        ratio = self.pace.ratio
        off_route = self.locator.off_route
        provisional = self.run.route.provisional
        long_stop = stopped_s > p.light_grace_s
        # Standing still up to the grace is what the expected times already allow for
        # (lights, junctions): the arrival time holds still meanwhile.
        credit_s = min(stopped_s, p.light_grace_s)
        carry_s = 0.0  # service still to do at stops reached or to reach first
        for placed, state in zip(self.run.stops, self._stops, strict=True):
            if state.dwell_since_s is not None:
                credit_s = 0.0  # standing at a stop is service, not traffic
            if state.arrived_at_s is not None and not state.departed:
                carry_s += max(0.0, placed.stop.service_s - (t - state.arrived_at_s))
                credit_s = 0.0
        widen = _UNCOVERED_WIDEN if (off_route or provisional) else 1.0
        calibration = self.calibration
        # What is the same for every stop on this fix, looked up once (this loop runs per
        # stop on every fix: its cost grows with the run).
        stops_expected = self._stops_expected(hour)
        coverage = expected.coverage
        ratio_less_1 = ratio - 1.0
        courier_weight, horizon_s = p.courier_weight, p.courier_horizon_s
        # A stop's confidence depends on its own window only through spread <= the limit.
        conf_narrow = confidence(
            provisional=provisional,
            off_route=off_route,
            long_stop=long_stop,
            coverage=coverage,
            spread=0.0,
        )
        conf_wide = confidence(
            provisional=provisional,
            off_route=off_route,
            long_stop=long_stop,
            coverage=coverage,
            spread=math.inf,
        )
        utc = datetime.fromtimestamp
        etas: list[StopEta] = []
        base_along = progress.along_m
        base_expected = expected_now
        base_travel_s = 0.0
        base_m = 0.0
        first = True
        for placed, state, stop_expected in zip(
            self.run.stops, self._stops, stops_expected, strict=True
        ):
            if state.arrived_at_s is not None or state.passed:
                continue
            if first and off_route:
                # Off the route: straight to the next stop, as a detour, at the fleet's pace;
                # the rest of the run from there as planned.
                direct_m = math.hypot(x - placed.x_m, y - placed.y_m) * p.detour_factor
                base_m, base_travel_s = direct_m, direct_m / self.fleet_speed_mps
                base_along = placed.along_m
                base_expected = stop_expected
            # (Comparisons, not max() calls, in this loop: it runs per stop on every fix.)
            ahead_s = stop_expected - base_expected
            ahead_s = ahead_s if ahead_s > 0.0 else 0.0
            # The courier's recent pace says most about the next minutes, little about later.
            weight = courier_weight * horizon_s / (horizon_s + ahead_s)
            travel_s = base_travel_s + ahead_s * (1.0 + ratio_less_1 * weight)
            raw_eta_s = travel_s - credit_s
            raw_eta_s = (raw_eta_s if raw_eta_s > 0.0 else 0.0) + carry_s
            gate = state.gate
            was_published = gate.published_at_s
            changed = gate.offer(t + raw_eta_s, t, p)
            published = gate.published_at_s
            assert published is not None
            if changed or state.published_at is None or published != was_published:
                state.published_at = _utc(published)
            eta_s = published - t
            eta_s = eta_s if eta_s > 0.0 else 0.0
            ahead_m = placed.along_m - base_along
            remaining_m = base_m + (ahead_m if ahead_m > 0.0 else 0.0)
            early_s, late_s, spread = calibration.window_and_spread_s(eta_s, widen)
            reason = None
            if changed and was_published is not None:
                reason = change_reason(
                    off_route=off_route,
                    back_on_route=transition is Transition.BACK_ON_ROUTE,
                    long_stop=long_stop,
                    ratio=ratio,
                    later=published > was_published,
                )
                events.append(Event(EventKind.ETA_CHANGED, now, placed.stop.id, reason))
            eta = _stop_eta(
                placed.stop.id,
                state.published_at,
                eta_s,
                remaining_m,
                (utc(t + early_s, UTC), utc(t + late_s, UTC)),
                conf_narrow if spread <= HIGH_MAX_SPREAD else conf_wide,
                reason,
            )
            etas.append(eta)
            if (
                first
                and not state.arriving_sent
                and self._arriving(x, y, placed, eta_s, remaining_m, stopped_s)
            ):
                state.arriving_sent = True
                events.append(Event(EventKind.ARRIVING, now, placed.stop.id))
            first = False
            carry_s += placed.stop.service_s
        return tuple(etas)

    def _arriving(
        self,
        x: float,
        y: float,
        placed: PlacedStop,
        eta_s: float,
        remaining_m: float,
        stopped_s: float,
    ) -> bool:
        """Near the stop (straight and along the route, so a misplaced progress cannot say
        so alone), and either close along the route or due soon while moving: standing
        still, the published time holds and the ETA runs out without the courier nearing."""
        p = self.params
        if remaining_m > p.arriving_near_m:
            return False
        if math.hypot(x - placed.x_m, y - placed.y_m) > p.arriving_near_m:
            return False
        return remaining_m <= p.arriving_m or (eta_s <= p.arriving_s and stopped_s == 0.0)

    def _stops_expected(self, hour: int) -> tuple[float, ...]:
        """Expected seconds from the run's start to each stop in one hour of the week (the
        stops do not move: looked up once per hour, not per stop and fix)."""
        cached = self._stop_expected_s.get(hour)
        if cached is None:
            table = self.expected.table(hour)
            at_in = self.expected.at_in
            cached = tuple(at_in(table, placed.along_m) for placed in self.run.stops)
            self._stop_expected_s[hour] = cached
        return cached


def _utc(t_s: float) -> datetime:
    return datetime.fromtimestamp(t_s, UTC)
