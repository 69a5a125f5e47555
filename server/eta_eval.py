"""`tracker eval-eta`: replay recorded trips and measure the ETA against the truth.

The speed profile and the window calibration are learned from `--history`; predictions are
made on `--traces`; a trip present in both is never learned from. Each evaluated trip's
destination is its route's end. Its actual arrival is when it reached the destination: the
fix from which it stood still (under 1 m/s, learning's test) within the tracker's arrived
radius (50 m) of it until the trace ends, else the last fix. Standing there afterwards (a
parked device sends a heartbeat every 15 s) is parking, which no ETA should predict and
learning leaves out; long stops before arrival are real delays and count.
The same arrival is the truth for the model, the baseline and the cross-fitted history the
window is calibrated on; fixes after it are not replayed. Prints JSON: error
figures at 25/50/75 % of each trip's progress along the route and at fixed horizons (time
actually remaining), for the tracker and for the constant-speed baseline (remaining distance
over the fleet's median trip speed), plus the tracker's cost per fix.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geo.calibration import Calibration
from geo.detour import Detour, Shares
from geo.model import Fix
from geo.params import TrackerParams
from geo.route import Route
from geo.run import Run, Stop, build_run
from geo.speed_profile import LearnParams, SpeedProfile, hour_of_week, learn
from geo.tracker import Tracker
from server.traces import own_route, read_routes, read_trace

PROGRESS_POINTS = (0.25, 0.50, 0.75)
HORIZONS_S = (60.0, 120.0, 300.0, 600.0)
# A horizon is scored on the fix whose actual remaining time is closest to it, if this close.
HORIZON_TOLERANCE_S = 30.0
CALIBRATION_FOLDS = 3
# At the destination: as close as the tracker's `arrived` event requires.
ARRIVAL_RADIUS_M = TrackerParams().arrived_radius_m


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--history", type=Path, required=True, help="folder of trace CSVs to learn from"
    )
    parser.add_argument(
        "--traces", type=Path, required=True, help="folder of trace CSVs to predict on"
    )
    parser.add_argument(
        "--routes",
        type=Path,
        help="CSV (trace_file, raw_id, wkt MULTILINESTRING lon/lat) of known routes; "
        "a trip without one uses its own path as its route",
    )
    parser.add_argument(
        "--pattern", default="*.csv", help="file name glob in both folders (default *.csv)"
    )
    parser.add_argument(
        "--min-duration-s",
        type=float,
        default=0.0,
        help="evaluate only trips at least this long (default 0: every trip); "
        "learning always uses every history trip",
    )
    parser.add_argument(
        "--stops",
        type=int,
        default=1,
        help="stops per run, spread evenly along each route with the last at its end "
        "(default 1); to measure what more stops cost, accuracy is scored at the end",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="replay each evaluated trip this many times; us_per_fix is the fastest "
        "(a busy machine only adds time)",
    )
    parser.add_argument(
        "--cv-repeats",
        type=int,
        default=1,
        help="also score the history cross-validation on this many fold assignments in all "
        "(the first is the one the window is calibrated on, the others shuffled) and report "
        "their mean: one assignment of ~90 trips moves by a point or two",
    )
    parser.add_argument(
        "--per-trip", action="store_true", help="also print each evaluated trip's figures"
    )


def run(args: argparse.Namespace) -> int:
    for folder in (args.history, args.traces):
        if not folder.is_dir():
            print(f"error: {folder} is not a folder of trace CSVs", file=sys.stderr)
            return 2
    routes = read_routes(args.routes) if args.routes else {}
    targets = {p.name: p for p in sorted(args.traces.glob(args.pattern))}
    history_files = sorted(args.history.glob(args.pattern))
    history = {p.name: read_trace(p) for p in history_files if p.name not in targets}
    history = {name: trip for name, trip in history.items() if len(trip) >= 2}

    cross_fitted, detour = cross_fit(history, routes)
    profile = learn(history.values()).with_detour(detour)
    calibration, baseline_calibration = calibrations(cross_fitted)

    results: list[TripResult] = []
    for name, path in targets.items():
        trip = read_trace(path)
        if len(trip) < 2 or duration_s(trip) < args.min_duration_s:
            continue
        route = routes.get(name) or own_route(trip)
        if route is None:
            continue
        results.append(
            replay(
                name, trip, route, profile, calibration, baseline_calibration,
                args.stops, args.repeat,
            )
        )  # fmt: skip

    fixes = sum(len(r.predictions) for r in results)
    model, baseline = summarise(results, "model"), summarise(results, "baseline")
    cv_model, cv_baseline = summarise(cross_fitted, "model"), summarise(cross_fitted, "baseline")
    report: dict[str, object] = {
        "history_trips": len(history),
        "excluded_from_history_as_evaluated": sum(p.name in targets for p in history_files),
        "evaluated_trips": len(results),
        "evaluated_fixes": fixes,
        "min_duration_s": args.min_duration_s,
        "stops": args.stops,
        "fleet_speed_mps": round(profile.fleet_speed_mps, 2),
        "baseline_speed_mps": round(profile.median_trip_speed_mps, 2),
        "detour": detour.to_json(),
        "us_per_fix": round(1e6 * sum(r.tracker_s for r in results) / fixes, 1) if fixes else None,
        "model": model,
        "baseline": baseline,
        "mae_reduction": {key: _reduction(model[key], baseline[key]) for key in model},
        # The same figures on the history alone, each trip predicted by a profile learned on
        # the other folds: what parameters may be chosen on without seeing --traces.
        "history_cv_mae_reduction": {
            key: _reduction(cv_model[key], cv_baseline[key]) for key in cv_model
        },
    }
    if args.cv_repeats > 1:
        # Each trip is still never predicted by a profile that learned it; only the folds
        # differ.
        fits = [cross_fitted] + [
            cross_fit(history, routes, seed=seed)[0] for seed in range(1, args.cv_repeats)
        ]
        summaries = [(summarise(f, "model"), summarise(f, "baseline")) for f in fits]
        report["history_cv_mae_reduction_mean"] = {
            key: _mean([_reduction(m[key], b[key]) for m, b in summaries]) for key in cv_model
        }
    if args.per_trip:
        report["trips"] = [r.brief() for r in results]
    print(json.dumps(report, indent=2))
    return 0


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


def summarise(results: Sequence[TripResult], which: str) -> dict[str, dict[str, float | None]]:
    points: dict[str, list[Prediction]] = {}
    for fraction in PROGRESS_POINTS:
        key = f"progress_{round(fraction * 100)}pct"
        points[key] = [p for r in results if (p := r.at_progress(fraction)) is not None]
    for horizon in HORIZONS_S:
        key = f"horizon_{round(horizon)}s"
        points[key] = [p for r in results if (p := r.at_horizon(horizon)) is not None]
    points["all_fixes"] = [p for r in results for p in r.predictions if p.actual_s > 0]
    return {key: figures(preds, which) for key, preds in points.items()}


def figures(predictions: Sequence[Prediction], which: str) -> dict[str, float | None]:
    """MAE, median absolute percentage error, 90th percentile absolute error (seconds) and
    the share of actual arrivals inside the window."""
    if not predictions:
        return {"n": 0, "mae_s": None, "mdape_pct": None, "p90_abs_s": None, "coverage": None}
    actual = np.array([p.actual_s for p in predictions])
    if which == "model":
        predicted = np.array([p.model_s for p in predictions])
        windows = np.array([p.model_window_s for p in predictions])
    else:
        predicted = np.array([p.baseline_s for p in predictions])
        windows = np.array([p.baseline_window_s for p in predictions])
    error = np.abs(predicted - actual)
    positive = actual > 0
    inside = (windows[:, 0] <= actual) & (actual <= windows[:, 1])
    return {
        "n": len(predictions),
        "mae_s": round(float(error.mean()), 1),
        "mdape_pct": round(float(np.median(error[positive] / actual[positive]) * 100), 1)
        if positive.any()
        else None,
        "p90_abs_s": round(float(np.percentile(error, 90)), 1),
        "coverage": round(float(inside.mean()), 3),
    }


def _reduction(model: dict[str, float | None], baseline: dict[str, float | None]) -> float | None:
    m, b = model["mae_s"], baseline["mae_s"]
    return None if m is None or not b else round(1.0 - m / b, 3)


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 4) if known else None


def duration_s(trip: Sequence[Fix]) -> float:
    return (trip[-1].recorded_at - trip[0].recorded_at).total_seconds()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="eval-eta", description=__doc__)
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
