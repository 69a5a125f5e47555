"""Bottleneck answers (docs/api.md, "Bottlenecks"): GeoJSON layers of map cells, and the
hour-of-week heat map. Shaping only; the figures come from server/store/bottlenecks.py."""

from __future__ import annotations

from datetime import datetime

import msgspec

LAYERS = ("slow", "dwell", "late")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

RULES = {
    "slow": "cells whose driven speed (metres over seconds of travel between fixes, stops "
    "under the dwell minimum included) is below slow_ratio times the cell's usual speed: "
    "the learned speed profile's for the cell in each hour of the week (UTC) where the "
    "profile in use knows the cell (usual_from profile), else the same driven speed over "
    "the baseline_days up to `to` (usual_from history); worst first by lost_s, the seconds "
    "spent beyond the usual",
    "dwell": "cells where couriers stood still (slower than 1 m/s over 30 s) at least "
    "dwell_min_s at a time; worst first by total_s",
    "late": "destination cells of deliveries made after their promise (the window's end, "
    "else promised_by) and of failed attempts; worst first by late + failed",
}
HEAT_UNITS = {
    "late": "late deliveries + failed attempts (count: deliveries + failed attempts)",
    "slow": "seconds of travel beyond each cell's usual speed, the learned profile's or the "
    "history's as in the slow layer (count: steps between fixes)",
    "dwell": "seconds of dwell starting in the hour (count: stops)",
}


class Feature(msgspec.Struct):
    geometry: msgspec.Raw  # a GeoJSON Polygon: the cell
    properties: dict[str, float | int | str | None]
    type: str = "Feature"


class Layer(msgspec.Struct, rename={"from_at": "from", "to_at": "to"}):
    """A GeoJSON FeatureCollection with what it is and how it was made."""

    layer: str
    from_at: datetime
    to_at: datetime
    time_zone: str
    cell_m: float
    rule: str
    max_features: int
    truncated: bool  # there were more cells than max_features
    rolled_up_to: datetime | None  # slow, dwell: history after this is not in them yet
    features: list[Feature]
    type: str = "FeatureCollection"


class HeatMap(msgspec.Struct, rename={"from_at": "from", "to_at": "to"}):
    """7 rows (Monday first) of 24 hours in the operator's time zone."""

    metric: str
    from_at: datetime
    to_at: datetime
    time_zone: str
    unit: str
    days: list[str]
    values: list[list[float]]
    counts: list[list[int]]
    rolled_up_to: datetime | None


def matrix(by_hour: dict[int, tuple[float, int]]) -> tuple[list[list[float]], list[list[int]]]:
    """Hour of the week (0 = Monday 00:00) -> (value, count), as two 7 x 24 matrices.

    >>> values, counts = matrix({0: (2.5, 1), 167: (1.0, 3)})
    >>> values[0][0], counts[6][23], values[3][12]
    (2.5, 3, 0.0)
    """
    values = [[0.0] * 24 for _ in DAYS]
    counts = [[0] * 24 for _ in DAYS]
    for how, (value, count) in by_hour.items():
        values[how // 24][how % 24] = round(value, 1)
        counts[how // 24][how % 24] = count
    return values, counts
