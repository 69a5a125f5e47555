"""Time lost to slow travel, per map cell and per hour of the week, in bulk (numpy).

The input is the bottleneck rollup's travel in a range (`CellHours`: seconds, metres and
steps per cell and hour of the week). Each row is weighed against the cell's *usual* pace:
the learned speed profile's (geo/cell_paces.py) for that cell in that hour of the week when
the profile knows the cell, else the cell's own usual speed over a baseline period of the
rollup (`history_mps`; 0 when it has none, and then the row is left out). Expected seconds
= metres x usual pace; lost seconds = driven - expected.

A cell is slow when its expected seconds are under `slow_ratio` of its driven seconds, i.e.
its driven speed (metres / driven s) is below `slow_ratio` of its usual speed (metres /
expected s). For one usual speed this is the old rule, `driven_mps < ratio * usual_mps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from geo.cell_paces import BoolArray, CellPaces, FloatArray, IntArray, cell_keys, find_keys

PROFILE, HISTORY = "profile", "history"  # where a cell's usual speed came from
_HOURS_1970_TO_MONDAY = 72  # 1970-01-01 00:00 UTC was a Thursday


@dataclass(frozen=True, slots=True)
class CellHours:
    epsg: IntArray
    ix: IntArray
    iy: IntArray
    utc_hour: IntArray  # hour of the week in UTC (the profile's)
    hour: IntArray  # hour of the week in the operator's zone (the heat map's)
    driven_s: FloatArray
    driven_m: FloatArray
    steps: IntArray
    history_mps: FloatArray  # the cell's usual speed over the baseline; 0: none

    def __len__(self) -> int:
        return len(self.epsg)


def hours_of_week(start_s: IntArray, zone: str) -> IntArray:
    """The hour of the week (0 = Monday 00:00-01:00) in `zone` of each UTC hour starting
    `start_s` seconds after 1970; the zone's calendar is looked up once per distinct hour.

    >>> hours_of_week(np.array([0, 3_600]), "UTC").tolist()  # a Thursday
    [72, 73]
    >>> hours_of_week(np.array([0]), "Asia/Kolkata").tolist()  # 05:30 there
    [77]
    """
    if zone == "UTC":
        return (start_s // 3_600 + _HOURS_1970_TO_MONDAY) % 168
    distinct, back = np.unique(start_s, return_inverse=True)
    tz = ZoneInfo(zone)
    local = [datetime.fromtimestamp(int(t), tz) for t in distinct]
    return np.array([t.weekday() * 24 + t.hour for t in local], np.int64)[back.reshape(-1)]


def cell_hours(
    cells: tuple[IntArray, IntArray, IntArray],
    usual_mps: FloatArray,
    rows: tuple[IntArray, IntArray, IntArray],
    start_s: IntArray,
    travel: tuple[FloatArray, FloatArray],
    steps: IntArray,
    zone: str,
) -> CellHours:
    """The rows (cell, UTC hour starting `start_s`, travel s and m, steps) of the `cells`
    (the others are left out), each with its cell's usual speed over the baseline."""
    keys = cell_keys(*cells)
    order = np.argsort(keys)
    at, kept = find_keys(keys[order], cell_keys(*rows))
    kept_s = start_s[kept]
    return CellHours(
        epsg=rows[0][kept],
        ix=rows[1][kept],
        iy=rows[2][kept],
        utc_hour=hours_of_week(kept_s, "UTC"),
        hour=hours_of_week(kept_s, zone),
        driven_s=travel[0][kept],
        driven_m=travel[1][kept],
        steps=steps[kept],
        history_mps=usual_mps[order][at[kept]],
    )


def expected_s(rows: CellHours, paces: CellPaces | None) -> tuple[FloatArray, BoolArray]:
    """Per row: (expected seconds, usual from the profile); NaN where the cell has no usual."""
    with np.errstate(divide="ignore", invalid="ignore"):
        history = np.where(rows.history_mps > 0, rows.driven_m / rows.history_mps, np.nan)
    if paces is None or len(rows) == 0:
        return history, np.zeros(len(rows), np.bool_)
    pace, known = paces.lookup(rows.epsg, rows.ix, rows.iy, rows.utc_hour)
    return np.where(known, rows.driven_m * pace, history), known


def slow_cells(
    rows: CellHours, paces: CellPaces | None, slow_ratio: float, limit: int
) -> list[dict[str, Any]]:
    """The slow cells' figures, most seconds lost first (ties: by zone, ix, iy), at most
    `limit`. `rows` hold only the cells with enough travel (any order)."""
    if len(rows) == 0:
        return []
    expected, from_profile = expected_s(rows, paces)
    keys = cell_keys(rows.epsg, rows.ix, rows.iy)
    by_cell = np.argsort(keys, kind="stable")  # one cell's rows next to each other
    keys = keys[by_cell]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    driven_s = np.add.reduceat(rows.driven_s[by_cell], starts)
    driven_m = np.add.reduceat(rows.driven_m[by_cell], starts)
    steps = np.add.reduceat(rows.steps[by_cell], starts)
    usual_s = np.add.reduceat(expected[by_cell], starts)  # NaN for a cell without a usual
    slow = np.flatnonzero((driven_s > 0) & (usual_s < slow_ratio * driven_s))
    lost = driven_s[slow] - usual_s[slow]
    first = by_cell[starts[slow]]  # a row of each slow cell
    order = np.lexsort((rows.iy[first], rows.ix[first], rows.epsg[first], -lost))[:limit]
    out = []
    for i in order:
        cell, row = int(slow[i]), int(first[i])
        s, m, usual = float(driven_s[cell]), float(driven_m[cell]), float(usual_s[cell])
        out.append(
            {
                "epsg": int(rows.epsg[row]),
                "ix": int(rows.ix[row]),
                "iy": int(rows.iy[row]),
                "steps": int(steps[cell]),
                "driven_s": s,
                "driven_m": m,
                "driven_mps": m / s,
                "usual_mps": m / usual if usual > 0 else None,
                "lost_s": float(lost[i]),
                "usual_from": PROFILE if from_profile[row] else HISTORY,
            }
        )
    return out


def lost_by_hour(rows: CellHours, paces: CellPaces | None) -> dict[int, tuple[float, int]]:
    """Hour of the week (`rows.hour`) -> (seconds lost, steps), over rows with a usual."""
    expected, _ = expected_s(rows, paces)
    usable = ~np.isnan(expected)
    hours = rows.hour[usable]
    lost = np.bincount(hours, rows.driven_s[usable] - expected[usable], minlength=168)
    steps = np.bincount(hours, rows.steps[usable], minlength=168)
    return {int(h): (float(lost[h]), int(steps[h])) for h in np.flatnonzero(steps)}
