"""`tracker eval-eta`'s truth: a trip arrives when it comes to rest at its destination, not
when its device stops sending heartbeats; long stops on the way are part of the trip."""

from __future__ import annotations

from geo.calibration import Calibration
from geo.learning import arrival_index, cross_fit, replay
from geo.model import Fix
from geo.run import Stop, build_run
from geo.speed_profile import SpeedProfile
from tests.geo.helpers import drive, fix_m, route_m

PATH = [(0.0, 0.0), (1000.0, 0.0), (1000.0, 600.0)]  # 1,600 m
ROUTE = route_m(PATH)
RUN = build_run(ROUTE, [Stop("end", *ROUTE.end)])


def parked(x_m: float, y_m: float, from_s: float, for_s: float) -> list[Fix]:
    """A standing device's 15 s heartbeats, the first 15 s after `from_s`."""
    return [fix_m(from_s + k * 15.0, x_m, y_m) for k in range(1, int(for_s // 15) + 1)]


def test_ten_minutes_parked_at_the_end_is_not_travel() -> None:
    driven = drive(PATH, 10.0, 5.0)  # reaches the end at 160 s
    trip = driven + parked(*PATH[-1], 160.0, 600.0)
    assert arrival_index(trip, RUN) == len(driven) - 1
    result = replay("t", trip, ROUTE, SpeedProfile(), Calibration.default(), Calibration.default())
    assert result.predictions[0].actual_s == 160.0
    assert len(result.predictions) == len(driven)  # nothing is scored while parked


def test_a_trip_that_ends_moving_arrives_at_its_last_fix() -> None:
    trip = drive(PATH, 10.0, 5.0)
    assert arrival_index(trip, RUN) == len(trip) - 1


def test_a_long_stop_on_the_way_is_a_real_delay() -> None:
    first = drive(PATH[:2], 10.0, 5.0)  # 100 s to the corner, then 5 minutes standing
    stop = parked(*PATH[1], 100.0, 300.0)
    rest = drive(PATH[1:], 10.0, 5.0, t0_s=400.0)[1:]  # 60 s more to the end
    trip = first + stop + rest
    assert arrival_index(trip, RUN) == len(trip) - 1
    result = replay("t", trip, ROUTE, SpeedProfile(), Calibration.default(), Calibration.default())
    assert result.predictions[0].actual_s == 460.0


def test_parking_away_from_the_destination_is_not_arriving() -> None:
    short = [(0.0, 0.0), (1000.0, 0.0), (1000.0, 500.0)]  # stops 100 m short of the end
    driven = drive(short, 10.0, 5.0)
    trip = driven + parked(*short[-1], 150.0, 300.0)
    assert arrival_index(trip, RUN) == len(trip) - 1


def test_standing_near_the_end_then_driving_in_arrives_on_the_last_move() -> None:
    near = drive(PATH, 10.0, 5.0)[:-1]  # up to a few metres short of the end
    x, y = 1000.0, 560.0  # 40 m short: inside the radius
    wait = parked(x, y, 160.0, 120.0)
    trip = [*near, fix_m(158.0, x, y), *wait, fix_m(300.0, *PATH[-1])]
    assert arrival_index(trip, RUN) == len(trip) - 1


def test_with_stops_along_the_way_the_end_is_still_what_is_scored() -> None:
    trip = drive(PATH, 10.0, 5.0)
    profile, default = SpeedProfile(), Calibration.default()
    one = replay("t", trip, ROUTE, profile, default, default)
    four = replay("t", trip, ROUTE, profile, default, default, stops=4, repeat=2)
    assert [p.model_s for p in four.predictions] == [p.model_s for p in one.predictions]
    assert four.predictions[0].model_s > 100.0  # the end's ETA, not the first stop's


def test_another_fold_assignment_predicts_each_history_trip_once_from_other_trips() -> None:
    # Trips on one street at different speeds: which trips a profile learned from shows in
    # its predictions.
    history = {f"t{k}": drive(PATH, 4.0 + 2.0 * k, 5.0, t0_s=k * 86_400.0) for k in range(6)}
    plain = {r.name: r for r in cross_fit(history, {})[0]}
    shuffled = {r.name: r for r in cross_fit(history, {}, seed=1)[0]}
    assert sorted(plain) == sorted(shuffled) == sorted(history)
    first = {name: r.predictions[0].model_s for name, r in shuffled.items()}
    assert first != {name: r.predictions[0].model_s for name, r in plain.items()}
    # Never predicted by a profile that learned it: the slowest and fastest trips are
    # predicted faster and slower than they drove.
    assert first["t0"] < plain["t0"].predictions[0].actual_s
    assert first["t5"] > plain["t5"].predictions[0].actual_s
