"""The figures of the insights API (docs/api.md, "Insights") from a rollup group's sums and
counts (server/store/insight_queries.py); definitions in server/domain/performance.py.
Rates are 0..1, times in seconds, None where nothing was counted."""

from __future__ import annotations

from typing import Any

from server.domain.histograms import DWELL, ETA_ERROR, LATENESS, quantile
from server.domain.performance import HORIZON_NAMES
from server.store.insight_queries import Group


def _rate(part: float, whole: float) -> float | None:
    return None if whole <= 0 else round(part / whole, 4)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def eta_figures(group: Group) -> dict[str, dict[str, Any]]:
    """Per horizon: arrivals counted, mean absolute error, its p90, and the share of
    arrivals inside the window shown (window coverage)."""
    out: dict[str, dict[str, Any]] = {}
    for h in HORIZON_NAMES:
        errors = group.counts.get(f"{ETA_ERROR.name}:{h}", {})
        n = group.sums[f"eta_n_{h}"]
        abs_sum = group.sums[f"eta_abs_s_{h}"]
        inside = group.sums[f"eta_in_window_{h}"]
        out[h] = {
            "n": int(n),
            "mae_s": None if n == 0 else round(abs_sum / n, 1),
            "p90_abs_error_s": _round(quantile(ETA_ERROR, errors, 0.9)),
            "window_coverage": _rate(inside, n),
        }
    return out


def figures(group: Group) -> dict[str, Any]:
    """The summary's figures of one group."""
    s = group.sums
    lateness = group.counts.get(LATENESS.name, {})
    dwell = group.counts.get(DWELL.name, {})
    reasons = {
        metric.split(":", 1)[1]: sum(counts.values())
        for metric, counts in sorted(group.counts.items())
        if metric.startswith("failed:")
    }
    leg_h = s["leg_s"] / 3600.0
    return {
        "deliveries": int(s["delivered"]),
        "attempts": int(s["attempts"]),
        "failed": int(s["failed"]),
        "on_time_rate_promise": _rate(s["on_time_promise"], s["with_promise"]),
        "on_time_rate_window": _rate(s["in_window"], s["with_window"]),
        "first_attempt_success_rate": _rate(s["first_attempt_ok"], s["first_attempts"]),
        "failure_reasons": reasons,
        "lateness_median_s": _round(quantile(LATENESS, lateness, 0.5)),
        "lateness_p90_s": _round(quantile(LATENESS, lateness, 0.9)),
        "time_at_door_median_s": _round(quantile(DWELL, dwell, 0.5)),
        "time_at_door_mean_s": None if s["dwell_n"] <= 0 else round(s["dwell_s"] / s["dwell_n"], 1),
        "stops_per_driver_hour": None if leg_h <= 0 else round(s["attempts"] / leg_h, 2),
        "distance_km": round(s["leg_distance_m"] / 1000.0, 2),
        "eta": eta_figures(group),
    }


def flat(group: Group) -> dict[str, Any]:
    """The figures as one table row (CSV-friendly): failure reasons left out, the ETA's
    per horizon as `eta_<horizon>_<figure>` columns."""
    values = figures(group)
    eta = values.pop("eta")
    values.pop("failure_reasons")
    for h, by in eta.items():
        for name, value in by.items():
            values[f"eta_{h}_{name}"] = value
    return values
