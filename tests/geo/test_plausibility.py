"""Plausibility rules, as plain function calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from geo.model import Fix
from geo.plausibility import DriverFilter, Limits, check_fix, jump_rejection

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = Limits()


def at(seconds: float, lon: float = 11.9, lat: float = 50.3, **readings: float) -> Fix:
    return Fix(NOW + timedelta(seconds=seconds), lon, lat, **readings)


@pytest.mark.parametrize(
    ("fix", "rule"),
    [
        (at(0, lat=90.0001), "lat_range"),
        (at(0, lon=-180.5), "lon_range"),
        (at(0, lat=float("nan")), "not_finite"),
        (at(0, accuracy_m=float("inf")), "not_finite"),
        (at(0, lon=0.0, lat=0.0), "null_island"),
        (at(-LIMITS.max_age_s - 1), "too_old"),
        (at(LIMITS.max_future_s + 1), "in_future"),
        (at(0, accuracy_m=-0.1), "accuracy"),
        (at(0, accuracy_m=LIMITS.max_accuracy_m + 1), "accuracy"),
        (at(0, speed_mps=-0.5), "speed_range"),
        (at(0, heading_deg=360.5), "heading_range"),
        (at(0, altitude_m=-5_000), "alt_range"),
        (at(0, battery=-0.01), "battery_range"),
    ],
)
def test_each_rule_names_itself(fix: Fix, rule: str) -> None:
    rejection = check_fix(fix, NOW, LIMITS)
    assert rejection is not None and rejection.rule == rule
    assert str(rejection).startswith(f"{rule}: ")


@pytest.mark.parametrize(
    "fix",
    [
        at(0),
        at(-LIMITS.max_age_s + 1),
        at(LIMITS.max_future_s - 1),
        at(0, lat=90.0, lon=180.0),
        at(0, lat=-90.0, lon=-180.0),
        at(0, accuracy_m=0.0, speed_mps=0.0, heading_deg=360.0, altitude_m=-400.0, battery=1.0),
        at(0, lon=0.0, lat=0.0001),
    ],
)
def test_edges_of_the_ranges_pass(fix: Fix) -> None:
    assert check_fix(fix, NOW, LIMITS) is None


def test_jump_allows_fast_driving_and_rejects_teleports() -> None:
    start = at(0)
    # 30 m/s for 10 s: 300 m east (1 degree of longitude at lat 50.3 is ~71 km).
    assert jump_rejection(at(10, lon=11.9 + 300 / 71_100), start, LIMITS) is None
    rejection = jump_rejection(at(1, lon=11.9 + 672 / 71_100), start, LIMITS)
    assert rejection is not None and rejection.rule == "teleport"


def test_jump_allowance_grows_with_reported_inaccuracy() -> None:
    start = at(0, accuracy_m=200.0)
    far = at(1, lon=11.9 + 500 / 71_100, accuracy_m=150.0)  # 500 m off, but both fixes are vague
    assert jump_rejection(far, start, LIMITS) is None
    assert jump_rejection(at(1, lon=11.9 + 500 / 71_100), at(0), LIMITS) is not None


def test_late_fixes_are_not_judged_for_jumps() -> None:
    assert jump_rejection(at(-5, lon=12.5), at(0), LIMITS) is None


def test_filter_rejects_a_glitch_and_keeps_the_true_track() -> None:
    driver = DriverFilter(LIMITS)
    assert driver.check(at(0), NOW) is None
    glitch = driver.check(at(15, lon=11.9 + 1_000 / 71_100), NOW)  # Porto-style 1 km jump
    assert glitch is not None and glitch.rule == "teleport"
    assert driver.check(at(30, lon=11.9 + 100 / 71_100), NOW) is None
    assert driver.latest == at(30, lon=11.9 + 100 / 71_100)


def test_filter_reanchors_after_a_bad_first_fix() -> None:
    driver = DriverFilter(LIMITS, latest=at(-60, lon=13.4, lat=52.5))  # a stale glitch in Berlin
    verdicts = [driver.check(at(s, lon=11.9 + s * 1e-4), NOW) for s in range(5)]
    assert [v.rule if v else None for v in verdicts] == ["teleport", "teleport", None, None, None]
    assert driver.latest is not None and driver.latest.lon == pytest.approx(11.9 + 4e-4)


def test_filter_does_not_reanchor_on_scattered_glitches() -> None:
    driver = DriverFilter(LIMITS, latest=at(0))
    glitches = [at(1, lon=12.5), at(2, lat=51.0), at(3, lon=11.0)]  # far apart from each other
    assert all(driver.check(g, NOW) is not None for g in glitches)
    assert driver.latest == at(0)


def test_late_fix_is_accepted_but_does_not_become_latest() -> None:
    driver = DriverFilter(LIMITS)
    assert driver.check(at(10), NOW) is None
    assert driver.check(at(5, lon=11.9001), NOW) is None
    assert driver.latest == at(10)
