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
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from geo.learning import Prediction, TripResult, calibrations, cross_fit, own_route, replay
from geo.model import Fix
from geo.speed_profile import learn
from server.bench.traces import read_routes, read_trace

PROGRESS_POINTS = (0.25, 0.50, 0.75)
HORIZONS_S = (60.0, 120.0, 300.0, 600.0)


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
    parser.add_argument(
        "--route-with-network",
        action="store_true",
        help="also route each evaluated trip's first fix to its last on the imported road "
        "network (DATABASE_URL; `tracker osm import`) and compare the routed travel time, and "
        "the provisional line's, with the actual one (server/bench/network_eval.py)",
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
    if args.route_with_network:
        from server.bench import network_eval
        from server.cli_tools import settings_from_env

        trips = {n: t for n, p in targets.items() if len(t := read_trace(p)) >= 2}
        speed = profile.median_trip_speed_mps
        report["network"] = network_eval.run(settings_from_env(), trips, speed)
    print(json.dumps(report, indent=2))
    return 0


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
