"""How fast this courier is going compared with what was expected, lately.

The ratio is elapsed time over expected time for the progress made in a recent window,
pulled towards 1 by a prior of a couple of minutes so that a few seconds of data cannot swing
it. Time standing still beyond the traffic-light grace (a delivery, a break) is left out:
that is not how fast the courier drives, and the ETA shows it separately.
"""

from __future__ import annotations

from collections import deque

from geo.params import TrackerParams


class CourierPace:
    __slots__ = ("_excluded_s", "_samples", "params", "ratio")

    def __init__(self, params: TrackerParams) -> None:
        self.params = params
        self._samples: deque[tuple[float, float]] = deque()  # (time less excluded, expected)
        self._excluded_s = 0.0
        self.ratio = 1.0

    def exclude(self, seconds: float) -> None:
        """Leave `seconds` of the time since the last observation out of the ratio."""
        self._excluded_s += max(0.0, seconds)

    def observe(self, t_s: float, expected_s: float) -> float:
        """Record that the courier reached a place expected at `expected_s` at `t_s`."""
        p = self.params
        now = t_s - self._excluded_s
        samples = self._samples
        samples.append((now, expected_s))
        while len(samples) > 2 and now - samples[1][0] >= p.courier_window_s:
            samples.popleft()
        then, expected_then = samples[0]
        ratio = (now - then + p.courier_prior_s) / (expected_s - expected_then + p.courier_prior_s)
        self.ratio = min(max(ratio, p.courier_ratio_min), p.courier_ratio_max)
        return self.ratio
