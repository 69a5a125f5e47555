"""The ETAs shown, sampled per stop and read back at horizons before the GPS arrival
(server/live/eta_horizons.py), and the histograms medians come from: pure, no server."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from geo.eta import StopEta
from server.domain.histograms import ETA_ERROR, LATENESS, quantile
from server.domain.lifecycle import Status
from server.live.eta_horizons import Horizons

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


class S(NamedTuple):
    """A run's stop, as much as the horizons read of it."""

    order_id: int
    status: Status


ORDER = 7


def eta(order_id: int, at: datetime) -> StopEta:
    return StopEta(str(order_id), at, 0.0, 0.0, (at - timedelta(minutes=5), at), "high")


def drive(horizons: Horizons, minutes: int, arrival: datetime, every_s: float = 5.0) -> None:
    """A stop out for delivery for `minutes`, its ETA drifting, a fix every `every_s`."""
    t = 0.0
    while t <= minutes * 60:
        now = T0 + timedelta(seconds=t)
        shown = arrival + timedelta(seconds=(minutes * 60 - t) / 10)  # early by a tenth
        horizons.observe(1, now, [S(ORDER, Status.OUT_FOR_DELIVERY)], {ORDER: eta(ORDER, shown)})
        t += every_s


def test_each_horizon_gets_the_eta_shown_that_long_before_arrival() -> None:
    horizons = Horizons(sample_s=60.0)
    arrival = T0 + timedelta(minutes=90)
    drive(horizons, 90, arrival)
    shown = {s.horizon: s for s in horizons.arrived(ORDER, arrival)}
    assert list(shown) == ["dispatch", "60", "30", "15", "5"]
    assert shown["dispatch"].shown_at == T0
    for name in ("60", "30", "15", "5"):
        before_s = (arrival - shown[name].shown_at).total_seconds()
        assert int(name) * 60 <= before_s <= int(name) * 60 + 2 * 60.0
        # what was shown then: that moment's ETA, a tenth of the time left too late
        expected = arrival + timedelta(seconds=before_s / 10)
        assert abs((shown[name].eta_at - expected).total_seconds()) < 0.001
    assert len(horizons) == 0  # forgotten once arrived


def test_a_stop_sent_out_late_has_no_earlier_horizons() -> None:
    horizons = Horizons(sample_s=60.0)
    arrival = T0 + timedelta(minutes=20)
    drive(horizons, 20, arrival)
    assert [s.horizon for s in horizons.arrived(ORDER, arrival)] == ["dispatch", "15", "5"]


def test_a_gap_in_fixes_leaves_the_horizon_empty_rather_than_stale() -> None:
    horizons = Horizons(sample_s=60.0)
    arrival = T0 + timedelta(minutes=40)
    horizons.observe(1, T0, [S(ORDER, Status.OUT_FOR_DELIVERY)], {ORDER: eta(ORDER, arrival)})
    later = arrival - timedelta(minutes=3)  # the phone was silent for 37 minutes
    horizons.observe(1, later, [S(ORDER, Status.OUT_FOR_DELIVERY)], {ORDER: eta(ORDER, arrival)})
    assert [s.horizon for s in horizons.arrived(ORDER, arrival)] == ["dispatch"]


def test_memory_per_stop_is_bounded_and_only_stops_out_for_delivery_are_kept() -> None:
    horizons = Horizons(sample_s=60.0)
    for k in range(3 * 3600):  # three hours of a fix a second
        now = T0 + timedelta(seconds=k)
        stops = [S(ORDER, Status.OUT_FOR_DELIVERY), S(8, Status.SHIPPED)]
        horizons.observe(1, now, stops, {ORDER: eta(ORDER, now), 8: eta(8, now)})
    samples = horizons._samples[ORDER]
    assert len(samples) // 4 <= 3600 / 60 + 4
    assert 8 not in horizons._samples
    horizons.forget([ORDER])
    assert len(horizons) == 0


def test_quantiles_from_buckets_are_within_a_bucket_of_the_nearest_rank() -> None:
    rng = random.Random(18)
    for buckets in (LATENESS, ETA_ERROR):
        values = [rng.uniform(buckets.low - 100, buckets.high + 100) for _ in range(501)]
        counts: dict[int, int] = {}
        for v in values:
            counts[buckets.index(v)] = counts.get(buckets.index(v), 0) + 1
        for q in (0.5, 0.9):
            rank = sorted(values)[int(q * len(values) + 0.999999) - 1]
            expected = min(max(rank, buckets.low), buckets.high)
            got = quantile(buckets, counts, q)
            assert got is not None and abs(got - expected) <= buckets.width


def test_a_run_is_sampled_once_per_interval_and_at_once_after_it_changed() -> None:
    horizons = Horizons(sample_s=60.0)
    stops = [S(ORDER, Status.OUT_FOR_DELIVERY)]
    for k in range(0, 120, 5):
        now = T0 + timedelta(seconds=k)
        horizons.observe(1, now, stops, {ORDER: eta(ORDER, now)})
    assert horizons._samples[ORDER][::4].tolist() == [T0.timestamp(), T0.timestamp() + 60]
    sent_out = S(9, Status.OUT_FOR_DELIVERY)  # a stop sent out mid-interval
    horizons.run_changed(1)
    now = T0 + timedelta(seconds=125)
    horizons.observe(1, now, [*stops, sent_out], {ORDER: eta(ORDER, now), 9: eta(9, now)})
    assert horizons._first[9][0] == now.timestamp()
