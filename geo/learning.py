"""Learning the ETA models from recorded trips, and replaying a trip to see what they
predict: what the production job (`tracker learn-eta`, server/usecases/learning.py) and the
offline evaluation (`tracker eval-eta`, server/bench/eta_eval.py) share.

A trip's actual arrival is when it reached the destination: the fix from which it stood
still (under 1 m/s, learning's test) within the tracker's arrived radius (50 m) of it until
the trace ends, else the last fix. Standing there afterwards (a parked device sends a
heartbeat every 15 s) is parking, which no ETA should predict and learning leaves out; long
stops before arrival are real delays and count. The window calibration is learned from
cross-fitted predictions (each trip predicted by a profile learned without it).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from geo.calibration import Calibration
from geo.detour import Detour, Shares
from geo.model import Fix
from geo.params import TrackerParams
from geo.route import Route, RouteError
from geo.run import Run, Stop, build_run
from geo.speed_profile import LearnParams, SpeedProfile, hour_of_week, learn
from geo.tracker import Tracker

# A horizon is scored on the fix whose actual remaining time is closest to it, if this close.
HORIZON_TOLERANCE_S = 30.0
CALIBRATION_FOLDS = 3
# At the destination: as close as the tracker's `arrived` event requires.
ARRIVAL_RADIUS_M = TrackerParams().arrived_radius_m


@dataclass(frozen=True, slots=True)
class Prediction:
    """What was predicted at one fix, and what happened. Times are remaining seconds."""

    actual_s: float
    fraction: float  # progress along the route, 0..1
    model_s: float
    model_window_s: tuple[float, float]
    baseline_s: float
    baseline_window_s: tuple[float, float]
    # Seconds of expected travel ahead per straightness tenth, when learning a detour.
    shares: tuple[float, ...] = ()


@dataclass(slots=True)
class TripResult:
    name: str
    predictions: list[Prediction] = field(default_factory=list)
    tracker_s: float = 0.0  # time spent in Tracker.update

    def at_progress(self, fraction: float) -> Prediction | None:
        """The prediction made at the first fix at or beyond `fraction` of the route."""
        return next((p for p in self.predictions if p.fraction >= fraction), None)

    def at_horizon(self, horizon_s: float) -> Prediction | None:
        """The prediction made when the actual remaining time was closest to `horizon_s`."""
        best = min(self.predictions, key=lambda p: abs(p.actual_s - horizon_s))
        return best if abs(best.actual_s - horizon_s) <= HORIZON_TOLERANCE_S else None

    def brief(self) -> dict[str, object]:
        mid = self.at_progress(0.5)
        return {
            "trip": self.name,
            "fixes": len(self.predictions),
            "duration_s": round(self.predictions[0].actual_s),
            "at_50pct": None
            if mid is None
            else {"actual_s": round(mid.actual_s), "model_s": round(mid.model_s),
                  "baseline_s": round(mid.baseline_s)},
        }  # fmt: skip


def replay(
    name: str,
    trip: Sequence[Fix],
    route: Route,
    profile: SpeedProfile,
    calibration: Calibration,
    baseline_calibration: Calibration,
    stops: int = 1,
    repeat: int = 1,
    shares: bool = False,
) -> TripResult:
    """Predict the arrival at the route's end at every fix of `trip` up to its arrival.

    `stops` > 1 spreads that many stops along the route (the last at its end) to measure
    what more stops cost; `tracker_s` is the fastest of `repeat` replays. `shares` records
    what a detour correction learns from (`Prediction.shares`).
    """
    run = spread_stops(route, stops)
    arrived = arrival_index(trip, run)
    end = trip[arrived].recorded_at
    result = TripResult(name)
    speed = profile.median_trip_speed_mps
    length_m = run.length_m
    for attempt in range(repeat):
        tracker = Tracker(run, profile, calibration)
        by_hour: dict[int, Shares] = {}
        tracker_s = 0.0
        for fix in trip[: arrived + 1]:
            started = time.perf_counter()
            update = tracker.update(fix)
            tracker_s += time.perf_counter() - started
            if attempt > 0 or update.late or update.progress is None:
                continue
            actual_s = (end - fix.recorded_at).total_seconds()
            if update.etas and update.etas[-1].stop_id == "end":
                eta = update.etas[-1]
                model_s = eta.eta_s
                window = tuple((w - fix.recorded_at).total_seconds() for w in eta.window)
            else:  # arrived already (dwelt at the end before the trace ended)
                model_s, window = 0.0, (0.0, 0.0)
            baseline_s = update.progress.remaining_m / speed
            ahead: tuple[float, ...] = ()
            if shares:
                ahead = _shares(tracker, by_hour, fix).at(update.progress.along_m)
            result.predictions.append(
                Prediction(
                    actual_s,
                    update.progress.along_m / length_m if length_m > 0 else 1.0,
                    model_s,
                    (window[0], window[1]),
                    baseline_s,
                    baseline_calibration.window_s(baseline_s),
                    ahead,
                )
            )
        result.tracker_s = tracker_s if attempt == 0 else min(result.tracker_s, tracker_s)
    return result


def _shares(tracker: Tracker, by_hour: dict[int, Shares], fix: Fix) -> Shares:
    hour = hour_of_week(fix.recorded_at)
    found = by_hour.get(hour)
    if found is None:
        expected = tracker.expected
        found = Shares(expected.piece_seconds(hour), expected.piece_m, tracker.run.line)
        by_hour[hour] = found
    return found


def spread_stops(route: Route, stops: int) -> Run:
    """A run over `route` with `stops` stops (no service time) at equal distances along it,
    the last one, "end", at its end."""
    run = build_run(route, [Stop("end", *route.end)])
    if stops <= 1:
        return run
    line = run.line
    spread = [
        Stop(str(k), *line.frame.to_lonlat(*line.point_at(line.length_m * k / stops)))
        for k in range(1, stops)
    ]
    return build_run(route, [*spread, Stop("end", *route.end)])


def arrival_index(trip: Sequence[Fix], run: Run, radius_m: float = ARRIVAL_RADIUS_M) -> int:
    """The index of the fix at which `trip` reached `run`'s last stop: where it came to rest
    for good within `radius_m` of it (the fix after its last move there); the last fix when
    it was still moving at the end or stands farther away.

    Standing is learning's own test (under 1 m/s between fixes), so what is cut off here is
    exactly the end-of-trip parking that `learn` leaves out of the speed profile.
    """
    stop = run.stops[-1]
    stop_speed_mps = LearnParams().stop_speed_mps
    arrived = len(trip) - 1
    x, y = run.line.to_xy(trip[arrived].lon, trip[arrived].lat)
    if math.hypot(x - stop.x_m, y - stop.y_m) > radius_m:
        return arrived
    for i in range(len(trip) - 2, -1, -1):
        px, py = run.line.to_xy(trip[i].lon, trip[i].lat)
        dt_s = (trip[i + 1].recorded_at - trip[i].recorded_at).total_seconds()
        moved_m = math.hypot(x - px, y - py)
        if moved_m >= stop_speed_mps * dt_s or math.hypot(px - stop.x_m, py - stop.y_m) > radius_m:
            break
        arrived, x, y = i, px, py
    return arrived


def cross_fit(
    history: dict[str, list[Fix]],
    routes: dict[str, Route],
    folds: int = CALIBRATION_FOLDS,
    seed: int | None = None,
) -> tuple[list[TripResult], Detour]:
    """Predictions on every history trip by a profile learned on the other folds (an
    in-sample profile would be too good: the window too narrow, the figures too rosy), and
    the detour correction learned from all of them.

    Two rounds: the first predicts without a detour correction and is what the correction
    learns from; the second predicts each fold with a correction learned from the other
    folds' first-round predictions, and is what is returned (the window is calibrated on
    it). Folds take every `folds`-th trip by name, or, with `seed`, of a shuffled order.
    """
    names = sorted(history)
    if seed is not None:
        random.Random(seed).shuffle(names)
    default = Calibration.default()
    held = [sorted(names[k::folds]) for k in range(folds)]
    profiles = [learn(history[n] for n in names if n not in skip) for skip in map(set, held)]
    routed = {n: r for n in names if (r := routes.get(n) or own_route(history[n])) is not None}

    def predict(with_shares: bool, detours: Sequence[Detour]) -> list[list[TripResult]]:
        return [
            [
                replay(
                    n,
                    history[n],
                    routed[n],
                    profile.with_detour(detour),
                    default,
                    default,
                    shares=with_shares,
                )
                for n in fold
                if n in routed
            ]
            for fold, profile, detour in zip(held, profiles, detours, strict=True)
        ]

    first = predict(True, [Detour()] * folds)
    fold_detours = [
        learn_detour([r for j, results in enumerate(first) if j != k for r in results])
        for k in range(folds)
    ]
    second = predict(False, fold_detours)
    return [r for results in second for r in results], learn_detour(
        [r for results in first for r in results]
    )


def learn_detour(results: Sequence[TripResult]) -> Detour:
    """The detour correction from predictions made without one, each trip counted once."""
    samples = [(p.model_s, p.actual_s, p.shares) for r in results for p in r.predictions]
    weights = [1.0 / len(r.predictions) for r in results for _ in r.predictions]
    return Detour.learn(samples, weights)


def calibrations(results: Sequence[TripResult]) -> tuple[Calibration, Calibration]:
    """Window calibrations for the model and the baseline from cross-fitted predictions,
    each trip counted once."""
    model_samples: list[tuple[float, float]] = []
    baseline_samples: list[tuple[float, float]] = []
    weights: list[float] = []
    for result in results:
        n = len(result.predictions)
        for p in result.predictions:
            model_samples.append((p.model_s, p.actual_s))
            baseline_samples.append((p.baseline_s, p.actual_s))
            weights.append(1.0 / n)
    return (
        Calibration.learn(model_samples, weights),
        Calibration.learn(baseline_samples, weights),
    )


def own_route(trip: Sequence[Fix]) -> Route | None:
    """The trip's own path as its route (for trips with no known route)."""
    coords: list[tuple[float, float]] = []
    for fix in trip:
        if not coords or coords[-1] != (fix.lon, fix.lat):
            coords.append((fix.lon, fix.lat))
    try:
        return Route(tuple(coords))
    except RouteError:
        return None
