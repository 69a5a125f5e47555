"""The "almost there" notice comes only when the courier is near the stop (issue 17):
replays of a progress misplaced on a later pass of the route, and of a courier standing
still far away while the published arrival time held still and ran out."""

from __future__ import annotations

from geo.events import EventKind
from geo.params import TrackerParams
from geo.run import Stop, build_run
from geo.speed_profile import SpeedProfile
from geo.tracker import Tracker, TrackUpdate
from tests.geo.helpers import T0, drive, fix_m, lonlat, route_m
from tests.geo.test_progress_jumps import DROP, LOOP_BACK

PARAMS = TrackerParams()
SPEED_MPS = 10.0
FLEET = SpeedProfile(fleet_speed_mps=SPEED_MPS, median_trip_speed_mps=SPEED_MPS)


def tracker(points: list[tuple[float, float]], stop: tuple[float, float]) -> Tracker:
    return Tracker(build_run(route_m(points), [Stop("next", *lonlat(*stop))]), FLEET)


def arriving_at(updates: list[TrackUpdate]) -> list[float]:
    return [
        (e.at - T0).total_seconds()
        for u in updates
        for e in u.events
        if e.kind == EventKind.ARRIVING
    ]


def test_a_drop_next_to_a_later_pass_sends_no_arriving_until_the_courier_is_near() -> None:
    t = tracker(LOOP_BACK, LOOP_BACK[-1])
    # A minute at the finished drop, then the whole next route at 10 m/s.
    fixes = [fix_m(s, *DROP) for s in range(0, 60, 5)]
    fixes += drive([DROP, *LOOP_BACK], SPEED_MPS, 5.0, t0_s=60.0)
    updates = [t.update(f) for f in fixes]
    first = updates[0].progress
    assert first is not None and first.remaining_m > 1300.0  # not the pass 410 m short
    assert [e.stop_id for e in updates[0].events if e.kind == EventKind.ARRIVING] == []
    [at_s] = arriving_at(updates)
    # Due within two minutes at 10 m/s: 1,200 m to go along the route, 50 m to the start.
    assert at_s >= 60.0 + (50.0 + 1397.0 - SPEED_MPS * PARAMS.arriving_s) / SPEED_MPS - 5.0


def test_standing_still_far_away_through_the_grace_sends_no_arriving() -> None:
    straight = [(0.0, 0.0), (3000.0, 0.0)]
    t = tracker(straight, (3000.0, 0.0))
    # To 1,700 m short of the stop (ETA 170 s), then still for the traffic-light grace and
    # beyond: the held arrival time runs out to under two minutes while standing there.
    to_light = drive([(0.0, 0.0), (1300.0, 0.0)], SPEED_MPS, 5.0)
    standing = [fix_m(130.0 + s, 1300.0, 2.0) for s in range(5, 185, 5)]
    updates = [t.update(f) for f in to_light + standing]
    assert min(u.etas[0].eta_s for u in updates) <= PARAMS.arriving_s  # it did run out
    assert arriving_at(updates) == []
    # Driving on, it comes when due within two minutes.
    on = drive([(1300.0, 0.0), (3000.0, 0.0)], SPEED_MPS, 5.0, t0_s=315.0)
    later = [t.update(f) for f in on[1:]]
    [at_s] = arriving_at(later)
    assert 315.0 < at_s <= 315.0 + (1700.0 - 300.0) / SPEED_MPS
