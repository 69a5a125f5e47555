"""geo/cell_paces.py and geo/lost_time.py: the profile's usual pace per cell looked up in
bulk, and the time lost against it (or against a cell's history when the profile does not
know the cell), checked against the same done by hand."""

from __future__ import annotations

import numpy as np
import pytest

from geo.cell_paces import CellPaces
from geo.lost_time import CellHours, lost_by_hour, slow_cells
from geo.speed_profile import ANY, LEVEL_CELL, LEVEL_COARSE, LEVEL_HOUR, SpeedProfile

Z = 32629
PRIOR_M = 300.0
FLEET = SpeedProfile().fleet_speed_mps


def _profile() -> SpeedProfile:
    return SpeedProfile(
        {
            (LEVEL_COARSE, Z, 1, 1, ANY, ANY): (100.0, 1_000.0),  # holds fine cells 4..7
            (LEVEL_CELL, Z, 5, 5, ANY, ANY): (30.0, 600.0),  # 20 m/s, known
            (LEVEL_CELL, Z, 6, 5, ANY, ANY): (20.0, 200.0),  # seen, but under prior_m
            (LEVEL_HOUR, Z, 5, 5, 0, 9): (10.0, 100.0),  # hour 9, two headings
            (LEVEL_HOUR, Z, 5, 5, 4, 9): (30.0, 100.0),
        }
    )


def _rows(cells: list[tuple[int, int, int, float, float, int, float]]) -> CellHours:
    """(ix, iy, utc hour, driven s, driven m, steps, history m/s); zone hour = utc hour."""
    ix, iy, hour, s, m, n, mps = (np.array(column) for column in zip(*cells, strict=True))
    return CellHours(
        np.full(len(cells), Z), ix, iy, hour, hour, s.astype(float), m.astype(float), n, mps
    )


def test_known_cells_pace_by_hour_of_week_shrunk_as_documented() -> None:
    paces = CellPaces.from_profile(_profile())
    pace, known = paces.lookup(
        np.array([Z, Z, Z, Z]), np.array([5, 5, 6, 9]), np.array([5, 5, 5, 5]),
        np.array([9, 10, 9, 9]),
    )  # fmt: skip
    coarse = (100.0 + PRIOR_M / FLEET) / (1_000.0 + PRIOR_M)
    cell = (30.0 + PRIOR_M * coarse) / (600.0 + PRIOR_M)
    hour9 = (40.0 + PRIOR_M * cell) / (200.0 + PRIOR_M)  # both headings of hour 9
    assert pace[:2] == pytest.approx([hour9, cell])
    assert known.tolist() == [True, True, False, False]  # 200 m < prior_m; never seen


def test_an_empty_profile_knows_no_cell() -> None:
    paces = CellPaces.from_profile(SpeedProfile())
    _, known = paces.lookup(np.array([Z]), np.array([-3]), np.array([7]), np.array([0]))
    assert known.tolist() == [False]


def test_slow_cells_weigh_each_hour_and_fall_back_to_history() -> None:
    paces = CellPaces.from_profile(_profile())
    rows = _rows(
        [
            (5, 5, 9, 60.0, 150.0, 30, 8.0),  # known: hour 9's pace and hour 10's
            (5, 5, 10, 40.0, 100.0, 20, 8.0),
            (6, 5, 9, 100.0, 150.0, 40, 3.0),  # unknown to the profile: history 3 m/s
            (7, 5, 9, 10.0, 150.0, 10, 0.0),  # no usual at all: never in the layer
        ]
    )
    coarse = (100.0 + PRIOR_M / FLEET) / (1_000.0 + PRIOR_M)
    cell = (30.0 + PRIOR_M * coarse) / (600.0 + PRIOR_M)
    hour9 = (40.0 + PRIOR_M * cell) / (200.0 + PRIOR_M)
    known_expected = 150.0 * hour9 + 100.0 * cell
    figures = slow_cells(rows, paces, 0.7, 10)
    assert [(f["ix"], f["usual_from"]) for f in figures] == [(5, "profile"), (6, "history")]
    first, second = figures
    assert first["lost_s"] == pytest.approx(100.0 - known_expected)
    assert first["usual_mps"] == pytest.approx(250.0 / known_expected)
    assert (first["steps"], first["driven_s"], first["driven_m"]) == (50, 100.0, 250.0)
    assert second["lost_s"] == pytest.approx(100.0 - 50.0)
    assert slow_cells(rows, paces, 0.7, 1) == figures[:1]  # the limit after ranking
    # no profile: the known cell is weighed against its history (8 m/s) instead
    without = slow_cells(rows, None, 0.7, 10)
    assert [(f["ix"], f["usual_from"]) for f in without] == [(5, "history"), (6, "history")]
    assert without[0]["lost_s"] == pytest.approx(100.0 - 250.0 / 8.0)
    # the heat map: the same expected seconds, by hour, over rows with a usual
    by_hour = lost_by_hour(rows, paces)
    assert by_hour[9] == pytest.approx((60.0 - 150.0 * hour9 + 100.0 - 50.0, 70))
    assert by_hour[10] == pytest.approx((40.0 - 100.0 * cell, 20))
    assert set(by_hour) == {9, 10}


def test_ties_are_ordered_by_cell_and_nothing_in_nothing_out() -> None:
    rows = _rows([(8, 5, 0, 100.0, 100.0, 50, 2.0), (4, 5, 0, 100.0, 100.0, 50, 2.0)])
    assert [f["ix"] for f in slow_cells(rows, None, 0.7, 10)] == [4, 8]
    empty = _rows([(0, 0, 0, 0.0, 0.0, 0, 0.0)])
    assert slow_cells(empty, None, 0.7, 10) == []
    assert lost_by_hour(empty, None) == {}
