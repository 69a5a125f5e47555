"""The jump filter replayed over every real development trace in ../shared/data."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from geo.model import Fix
from geo.plausibility import DriverFilter, Limits

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not (DATA / "traces").is_dir(), reason=f"shared GPS traces not found at {DATA}"
)


def replay(path: Path) -> tuple[int, int]:
    """(rejected, total) fixes of one trace through a fresh per-driver filter."""
    driver = DriverFilter(Limits(max_age_s=1e12))  # the traces are years old
    rejected = total = 0
    with path.open() as f:
        for row in csv.DictReader(f):
            t = datetime.fromisoformat(row["t"].replace("Z", "+00:00"))
            total += 1
            if driver.check(Fix(t, float(row["lon"]), float(row["lat"])), t) is not None:
                rejected += 1
    return rejected, total


def trips_by_flag() -> tuple[list[str], list[str]]:
    teleports, clean = [], []
    with (DATA / "trace_stats.csv").open() as f:
        for row in csv.DictReader(f):
            if "teleport" in row["flags"]:
                teleports.append(row["file"])
            elif row["usable"] == "yes":
                clean.append(row["file"])
    return teleports, clean


def test_every_flagged_teleport_is_caught() -> None:
    teleports, _ = trips_by_flag()
    assert len(teleports) >= 8
    missed = [name for name in teleports if replay(DATA / "traces" / name)[0] == 0]
    assert missed == []


def test_clean_trips_keep_nearly_every_fix() -> None:
    _, clean = trips_by_flag()
    results = [replay(DATA / "traces" / name) for name in clean]
    rejected, fixes = sum(r for r, _ in results), sum(n for _, n in results)
    assert fixes > 20_000
    assert rejected / fixes < 0.001, f"{rejected} of {fixes} fixes rejected on clean trips"
