"""The ETAs customers were shown, kept per stop for a while so that, once the GPS arrival
is known, the one shown at each horizon before it can be recorded (issue 18: the live twin
of `tracker eval-eta`; server/domain/performance.py, HORIZONS).

Cheap on the fix path, bounded: a driver's run is sampled at most once per `sample_s` of
the fix's time (between samples a fix costs one look-up), and at once after its run
changed; only stops out for delivery, 4 floats each in an array; only the samples that
can still be "the ETA shown N minutes before the arrival" are kept: the last hour and two
samples, so at most 3600 / sample_s + 4 per stop (the first, after dispatch, kept apart). A
stop's samples go when it leaves its run or arrives.

The ETA shown at horizon h is the newest sample taken at or before `arrival - h`, if one
was taken in the `2 * sample_s` before that (else none was being shown then: dispatched
later, or no fixes); the "dispatch" one is the first ETA after out for delivery.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from geo.eta import StopEta
from server.domain.lifecycle import Status
from server.domain.performance import HORIZONS, Shown

_KEEP_S = max(m for _, m in HORIZONS if m is not None) * 60.0


class Stop(Protocol):
    """What is read of a run's stop (live/runs.py's RunStop)."""

    @property
    def order_id(self) -> int: ...
    @property
    def status(self) -> Status: ...


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class Horizons:
    def __init__(self, sample_s: float) -> None:
        self._sample_s = sample_s
        self._keep_s = _KEEP_S + 2.0 * sample_s
        self._samples: dict[int, array[float]] = {}  # order -> (t, eta, start, end)...
        self._first: dict[int, tuple[float, float, float, float]] = {}
        self._due: dict[int, float] = {}  # driver -> when its run is next sampled

    def __len__(self) -> int:
        return len(self._samples)

    def observe(
        self, driver_id: int, now: datetime, stops: Iterable[Stop], etas: Mapping[int, StopEta]
    ) -> None:
        """A tracker update at `now` (the fix's time): if the driver's run is due a sample,
        the ETAs of its stops out for delivery."""
        t = now.timestamp()
        if t < self._due.get(driver_id, -math.inf):
            return
        self._due[driver_id] = t + self._sample_s
        for stop in stops:
            if stop.status is not Status.OUT_FOR_DELIVERY:
                continue
            order_id = stop.order_id
            eta = etas.get(order_id)
            if eta is None:
                continue
            sample = (t, eta.eta_at.timestamp(), eta.window[0].timestamp(),
                      eta.window[1].timestamp())  # fmt: skip
            samples = self._samples.get(order_id)
            if samples is None:
                self._first[order_id] = sample
                self._samples[order_id] = array("d", sample)
                continue
            if t <= samples[-4]:
                continue  # an older fix than the last sample's
            samples.extend(sample)
            while len(samples) > 8 and samples[4] < t - self._keep_s:
                del samples[:4]  # the next one is old enough to answer every horizon

    def run_changed(self, driver_id: int) -> None:
        """Sample the driver's run on its next fix (a stop just sent out gets its first
        ETA then)."""
        self._due.pop(driver_id, None)

    def arrived(self, order_id: int, at: datetime) -> tuple[Shown, ...]:
        """The ETAs shown before an arrival at `at`, by horizon; the stop is forgotten."""
        samples = self._samples.pop(order_id, None)
        first = self._first.pop(order_id, None)
        if samples is None or first is None:
            return ()
        a = at.timestamp()
        shown: list[Shown] = []
        for name, minutes in HORIZONS:
            if minutes is None:
                if first[0] <= a:
                    shown.append(_shown(name, first))
                continue
            cut = a - minutes * 60.0
            best = None
            for i in range(0, len(samples), 4):
                if samples[i] <= cut:
                    best = i
                else:
                    break
            if best is not None and samples[best] >= cut - 2.0 * self._sample_s:
                shown.append(_shown(name, tuple(samples[best : best + 4])))
        return tuple(shown)

    def forget(self, order_ids: Iterable[int]) -> None:
        for order_id in order_ids:
            self._samples.pop(order_id, None)
            self._first.pop(order_id, None)


def _shown(name: str, sample: tuple[float, ...]) -> Shown:
    t, eta, start, end = sample
    return Shown(name, _at(t), _at(eta), (_at(start), _at(end)))
