"""Whole real trips through the tracker: fcd_hof cars on their hand-corrected routes."""

from __future__ import annotations

import csv
import itertools
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from geo.distance import haversine_m
from geo.events import EventKind
from geo.model import Fix
from geo.route import Route
from geo.run import Stop, build_run
from geo.tracker import Tracker
from server.bench.traces import read_routes, read_trace

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not (DATA / "routes" / "fcd_hof_routes.csv").is_file(),
    reason=f"shared GPS traces and routes not found at {DATA}",
)


def usable_trips_with_routes() -> list[tuple[str, list[Fix], Route]]:
    routes = read_routes(DATA / "routes" / "fcd_hof_routes.csv")
    with (DATA / "trace_stats.csv").open() as f:
        usable = [
            row["file"]
            for row in csv.DictReader(f)
            if row["source"] == "fcd_hof" and row["usable"] == "yes"
        ]
    return [(n, read_trace(DATA / "traces" / n), routes[n]) for n in usable if n in routes]


def test_clean_trips_on_their_true_routes_never_go_off_route() -> None:
    trips = usable_trips_with_routes()
    assert len(trips) > 100
    false_alarms = {}
    for name, fixes, route in trips:
        tracker = Tracker(build_run(route, [Stop("end", *route.end)]))
        kinds = [e.kind for f in fixes for e in tracker.update(f).events]
        if EventKind.OFF_ROUTE in kinds:
            false_alarms[name] = kinds.count(EventKind.OFF_ROUTE)
    assert false_alarms == {}


def test_arrival_is_detected_once_near_the_end_of_each_trip() -> None:
    """The traces stop at arrival; the car is then parked, which a device reports as a
    heartbeat every 15 s: three of those are appended. The arrival must be found once, not
    before the car first came near the destination, and no later than the trace's end."""
    checked = 0
    for name, fixes, route in usable_trips_with_routes():
        last = fixes[-1]
        if haversine_m(last.lon, last.lat, *route.end) > 30:
            continue  # the trace ends away from its route's end: no ground truth to hold
        parked = [
            replace(last, recorded_at=last.recorded_at + timedelta(seconds=s)) for s in (15, 30, 45)
        ]
        tracker = Tracker(build_run(route, [Stop("end", *route.end)]))
        arrivals = [
            e
            for f in fixes + parked
            for e in tracker.update(f).events
            if e.kind == EventKind.ARRIVED
        ]
        near = next(f for f in fixes if haversine_m(f.lon, f.lat, *route.end) <= 60)
        assert len(arrivals) == 1, name
        assert near.recorded_at <= arrivals[0].at <= last.recorded_at + timedelta(seconds=15), name
        checked += 1
    assert checked > 100


def test_a_drive_past_the_destination_mid_trip_is_not_an_arrival() -> None:
    """Stop each real trip's tracker halfway: a stop placed where the car was at full speed
    (chosen from the trace, so it is on the car's path) sees no arrival."""
    checked = 0
    for name, fixes, route in usable_trips_with_routes()[:40]:
        moving = [
            b
            for a, b in itertools.pairwise(fixes)
            if 0 < (b.recorded_at - a.recorded_at).total_seconds() <= 5
            and haversine_m(a.lon, a.lat, b.lon, b.lat)
            > 12 * (b.recorded_at - a.recorded_at).total_seconds()
        ]
        if len(moving) < 5:
            continue
        here = moving[len(moving) // 2]
        tracker = Tracker(
            build_run(route, [Stop("passed", here.lon, here.lat), Stop("end", *route.end)])
        )
        kinds = [(e.kind, e.stop_id) for f in fixes for e in tracker.update(f).events]
        assert (EventKind.ARRIVED, "passed") not in kinds, name
        checked += 1
    assert checked >= 20
