"""The per-driver tracker: arrivals, stops, per-stop ETAs, late fixes, runs from legs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from geo.events import EventKind
from geo.model import Fix
from geo.params import TrackerParams
from geo.route import provisional_route
from geo.run import Stop, build_run, run_from_legs
from geo.speed_profile import SpeedProfile
from geo.tracker import Tracker, TrackUpdate
from tests.geo.helpers import T0, drive, fix_m, lonlat, route_m

STRAIGHT = [(0.0, 0.0), (3000.0, 0.0)]
PARAMS = TrackerParams()
SPEED_MPS = 10.0
# An empty profile: every place is expected at the fleet speed, so ETAs are easy to reason on.
FLEET = SpeedProfile(fleet_speed_mps=SPEED_MPS, median_trip_speed_mps=SPEED_MPS)


def tracker(stops: list[Stop], points: list[tuple[float, float]] = STRAIGHT) -> Tracker:
    return Tracker(build_run(route_m(points), stops), FLEET)


def stop_at(stop_id: str, x: float, y: float = 0.0, service_s: float = 0.0) -> Stop:
    return Stop(stop_id, *lonlat(x, y), service_s=service_s)


def feed(t: Tracker, fixes: list[Fix]) -> list[TrackUpdate]:
    return [t.update(f) for f in fixes]


def events(updates: list[TrackUpdate], kind: EventKind) -> list[tuple[float, str | None]]:
    return [
        ((e.at - T0).total_seconds(), e.stop_id)
        for u in updates
        for e in u.events
        if e.kind == kind
    ]


def standing(x: float, y: float, t0_s: float, seconds: float, every_s: float = 5.0) -> list[Fix]:
    return [fix_m(t0_s + k * every_s, x, y) for k in range(1, int(seconds / every_s) + 1)]


def test_arriving_then_arrived_once_when_the_courier_stops_there() -> None:
    t = tracker([stop_at("a", 1500.0), stop_at("b", 3000.0)])
    approach = drive([(0, 0), (1500, 0)], SPEED_MPS, 5.0)
    updates = feed(t, approach + standing(1500, 3, 150, 60))
    # ETA down to 120 s (1200 m out at 10 m/s); standing at "a" does not make "b" arriving.
    assert events(updates, EventKind.ARRIVING) == [(30.0, "a")]
    arrived = events(updates, EventKind.ARRIVED)
    assert len(arrived) == 1 and arrived[0][1] == "a"
    assert 145.0 <= arrived[0][0] <= 160.0  # when it got there, not when the dwell confirmed
    assert [e.stop_id for e in updates[-1].etas] == ["b"]


def test_a_drive_by_at_speed_is_not_an_arrival() -> None:
    t = tracker([stop_at("a", 1500.0), stop_at("b", 3000.0)])
    updates = feed(t, drive(STRAIGHT, SPEED_MPS, 2.0)[:-1])
    assert events(updates, EventKind.ARRIVED) == []
    assert events(updates, EventKind.PASSED)[0][1] == "a"
    assert [e.stop_id for e in updates[-1].etas] == ["b"]


def test_a_traffic_light_holds_the_arrival_time_still() -> None:
    t = tracker([stop_at("end", 3000.0)])
    before = feed(t, drive([(0, 0), (1000, 0)], SPEED_MPS, 5.0))
    light = feed(t, standing(1000, 2, 100, 60))
    etas_at = [u.etas[0].eta_at for u in light]
    eta_s = [u.etas[0].eta_s for u in light]
    assert max(etas_at) - min(etas_at) <= timedelta(seconds=1)
    assert etas_at[0] == before[-1].etas[0].eta_at
    assert eta_s == sorted(eta_s, reverse=True)  # counts down while waiting
    assert events(light, EventKind.ETA_CHANGED) == []


def test_a_long_stop_shows_in_the_eta_and_says_why() -> None:
    t = tracker([stop_at("end", 3000.0)])
    before = feed(t, drive([(0, 0), (1000, 0)], SPEED_MPS, 5.0))[-1].etas[0].eta_at
    stop = feed(t, standing(1000, 2, 100, 600, every_s=15.0))
    after = stop[-1].etas[0]
    grown_s = (after.eta_at - before).total_seconds()
    # Everything beyond the traffic-light grace is added, give or take the publishing step.
    assert 600 - PARAMS.light_grace_s - PARAMS.eta_change_s <= grown_s <= 600
    reasons = {e[1] for e in events(stop, EventKind.ETA_CHANGED)}
    assert reasons == {"end"}
    assert {ev.detail for u in stop for ev in u.events if ev.kind == EventKind.ETA_CHANGED} == {
        "stopped"
    }
    assert after.confidence == "low"


def test_each_stop_gets_its_own_eta_with_service_times_before_it() -> None:
    t = tracker(
        [
            stop_at("a", 1000.0, service_s=120.0),
            stop_at("b", 2000.0, service_s=300.0),
            stop_at("c", 3000.0),
        ]
    )
    first = t.update(fix_m(0, 0, 0))
    assert [(e.stop_id, round(e.eta_s)) for e in first.etas] == [
        ("a", 100),
        ("b", 200 + 120),
        ("c", 300 + 120 + 300),
    ]
    assert [round(e.remaining_m) for e in first.etas] == [1000, 2000, 3000]
    for eta in first.etas:
        assert eta.window[0] <= eta.eta_at <= eta.window[1]


def test_service_time_counts_down_while_at_a_stop() -> None:
    t = tracker([stop_at("a", 1000.0, service_s=300.0), stop_at("b", 3000.0)])
    feed(t, drive([(0, 0), (1000, 0)], SPEED_MPS, 5.0))
    at_stop = feed(t, standing(1000, 0, 100, 120))
    assert events(at_stop, EventKind.ARRIVED) == [(105.0, "a")]
    eta_b = [u.etas[0] for u in at_stop[-3:]]
    assert all(e.stop_id == "b" for e in eta_b)
    # Arrived at 105 s: 300 s of service, then 2000 m at 10 m/s.
    assert eta_b[-1].eta_at == pytest.approx(
        T0 + timedelta(seconds=105 + 300 + 200), abs=timedelta(seconds=15)
    )


def test_a_late_fix_changes_nothing_and_fires_nothing() -> None:
    t = tracker([stop_at("end", 3000.0)])
    feed(t, drive([(0, 0), (1000, 0)], SPEED_MPS, 5.0))
    latest = t.update(fix_m(101, 1010, 0))
    late = t.update(fix_m(50, 2990, 0))  # near the end, but from the past
    assert late.late and late.events == ()
    assert late.progress == latest.progress and late.etas == latest.etas
    again = t.update(fix_m(101, 1010, 0))  # a duplicate
    assert again.late


def test_off_route_estimates_straight_to_the_next_stop_with_low_confidence() -> None:
    t = tracker([stop_at("end", 3000.0)])
    feed(t, drive([(0, 0), (1000, 0)], SPEED_MPS, 5.0))
    detour = feed(t, [fix_m(100 + 5 * k, 1000 + 20 * k, 400) for k in range(1, 12)])
    assert len(events(detour, EventKind.OFF_ROUTE)) == 1
    eta = detour[-1].etas[0]
    assert detour[-1].off_route and eta.confidence == "low"
    straight_m = ((3000 - 1220) ** 2 + 400**2) ** 0.5
    assert eta.remaining_m == pytest.approx(straight_m * PARAMS.detour_factor, rel=0.01)
    assert eta.eta_s == pytest.approx(eta.remaining_m / SPEED_MPS, abs=60)


def test_a_provisional_route_gives_low_confidence_and_stretched_distance() -> None:
    destination = lonlat(3000, 0)
    run = build_run(provisional_route(lonlat(0, 0), destination), [Stop("end", *destination)])
    first = Tracker(run, FLEET).update(fix_m(0, 0, 0))
    assert first.etas[0].confidence == "low"
    assert first.etas[0].remaining_m == pytest.approx(3000 * 1.3, rel=0.005)


def test_a_run_from_legs_places_each_stop_at_its_legs_end() -> None:
    leg_a = route_m([(0, 0), (800, 0), (800, 600)])
    leg_b = route_m([(800, 600), (0, 600)])
    run = run_from_legs(
        [(leg_a, Stop("a", *lonlat(805, 600))), (leg_b, Stop("b", *lonlat(0, 600)))]
    )
    assert len(run.route.coords) == 4
    assert [round(s.along_m) for s in run.stops] == [1400, 2200]
    assert run.stops[0].offset_m == pytest.approx(5.0, abs=0.1)


def test_an_eta_does_not_jitter_with_small_speed_changes() -> None:
    t = tracker([stop_at("end", 3000.0)])
    x, updates = 0.0, []
    for k in range(60):
        x += 5 * (SPEED_MPS * (1.1 if k % 2 else 0.9))  # alternately 10 % fast and slow
        updates.append(t.update(fix_m(5 * (k + 1), x, 0)))
    changes = events(updates, EventKind.ETA_CHANGED)
    assert len(changes) <= 1
    assert len({u.etas[0].eta_at for u in updates}) <= 2


def test_crawling_past_faster_than_the_arrival_speed_is_not_an_arrival() -> None:
    # 4 m/s keeps the courier inside the 50 m radius for 25 s, longer than the dwell: only
    # the speed rule tells this from an arrival.
    t = tracker([stop_at("a", 1500.0), stop_at("b", 3000.0)])
    crawl = drive([(1300, 0), (1700, 0)], 4.0, 2.0)
    updates = feed(t, crawl)
    assert events(updates, EventKind.ARRIVED) == []
