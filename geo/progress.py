"""Progress along a run's route: where each fix lies along it and how far off it.

The search stays in a window near the last progress, so a route that loops or drives a
street twice never jumps to the other pass; progress never goes backwards on noise; and
off route is a sustained state with hysteresis, not a single far fix. A fix that fits both
near the progress and further ahead than the courier could have gone (a later part of the
route passing close by) stays near: the far place is taken only once it is sustained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from geo.frozen import maker
from geo.line import Hit, MetricLine
from geo.params import TrackerParams


@dataclass(frozen=True, slots=True)
class Progress:
    """`along_m` from the route start (never decreasing), `offset_m` from the route for this
    fix, `remaining_m` to the route end."""

    along_m: float
    offset_m: float
    remaining_m: float
    on_route: bool


_progress = maker(Progress)  # one per fix: see geo/frozen.py


class Transition(StrEnum):
    OFF_ROUTE = "off_route"
    BACK_ON_ROUTE = "back_on_route"


class Locator:
    """Per-driver progress state over one route."""

    __slots__ = (
        "_back_count",
        "_beyond_count",
        "_beyond_since_s",
        "_end_xy",
        "_jump_along_m",
        "_jump_count",
        "_jump_from_m",
        "_jump_since_s",
        "_located_s",
        "_rate_mps",
        "along_m",
        "line",
        "off_route",
        "params",
        "provisional",
    )

    def __init__(self, line: MetricLine, params: TrackerParams, provisional: bool = False):
        self.line = line
        self.params = params
        self.provisional = provisional
        self.along_m = 0.0
        self.off_route = False
        self._end_xy = (line.xs[-1], line.ys[-1])
        self._located_s: float | None = None  # time of the last fix that set the progress
        self._rate_mps = 0.0  # recent rate of progress, for where the courier should be next
        self._beyond_since_s: float | None = None
        self._beyond_count = 0
        self._back_count = 0
        # A far place ahead the fixes fit as well as a near one: since when, how often, where.
        self._jump_since_s: float | None = None
        self._jump_count = 0
        self._jump_along_m = 0.0
        self._jump_from_m = 0.0  # where along the far part it was first seen

    def locate(
        self,
        x: float,
        y: float,
        t_s: float,
        accuracy_m: float | None = None,
        heading: tuple[float, float] | None = None,
    ) -> tuple[Progress, Transition | None]:
        """Progress for a fix at (x, y) in the route's frame, at `t_s` (epoch seconds, newer
        than every fix located before)."""
        if self.provisional:
            return self._locate_provisional(x, y, t_s), None
        p = self.params
        line = self.line
        if accuracy_m is None:
            accuracy_m = p.unknown_accuracy_m
        limit_m = p.off_route_m + min(accuracy_m, p.max_accuracy_credit_m)
        if self._located_s is None:
            # First fix: anywhere, but prefer the start (a courier starts at the start).
            lo, expected, weight, near_hi = 0.0, 0.0, 0.01, p.window_ahead_m
            reach_m = p.window_ahead_m
            hit = line.nearest(x, y, 0.0, line.length_m, 0.0, along_weight=0.01, heading=heading)
        else:
            since_s = t_s - self._located_s
            lo = self.along_m - (200.0 if self.off_route else p.window_back_m)
            hi = self.along_m + p.window_ahead_m + p.max_speed_mps * since_s
            # Off route, the courier may rejoin anywhere ahead: prefer the nearest rejoin.
            expected = self.along_m + (0.0 if self.off_route else self._rate_mps * since_s)
            weight = 0.01 if self.off_route else 0.05
            hit = line.nearest(x, y, lo, hi, expected, along_weight=weight, heading=heading)
            near_hi = self.along_m + p.jump_ahead_m + p.jump_speed_mps * since_s
            reach_m = p.window_ahead_m + p.max_speed_mps * since_s
            if self._jump_since_s is not None and hit.along_m <= near_hi and not self.off_route:
                hit = self._better_far(x, y, hit, reach_m, weight, heading)
        if hit.along_m > near_hi and not self.off_route:
            hit = self._near_unless_sustained(x, y, t_s, hit, lo, near_hi, expected, weight,
                                              limit_m, reach_m, heading)  # fmt: skip
        else:
            self._jump_since_s, self._jump_count = None, 0
        if hit.offset_m > limit_m and not self.off_route and self._located_s is not None:
            # Progress may have run a little ahead of the courier (a fix pulled forward, a
            # few metres reversed): a good fit just behind is on route, not off it.
            behind = line.nearest(x, y, self.along_m - p.recover_back_m, self.along_m)
            if behind.offset_m <= limit_m:
                hit = Hit(self.along_m, behind.offset_m, behind.segment)
        beyond = hit.offset_m > limit_m
        transition = self._update_off_route(hit.offset_m, beyond, t_s)
        if not beyond:
            if self._located_s is not None and hit.along_m > self.along_m:
                dt = t_s - self._located_s
                if dt > 0:
                    rate = (hit.along_m - self.along_m) / dt
                    self._rate_mps += (min(rate, p.max_speed_mps) - self._rate_mps) * min(
                        1.0, dt / 30.0
                    )
            elif self._located_s is not None:
                self._rate_mps *= 0.5
            self.along_m = max(self.along_m, hit.along_m)
            self._located_s = t_s
        progress = _progress(
            self.along_m, hit.offset_m, line.length_m - self.along_m, not self.off_route
        )
        return progress, transition

    def _better_far(
        self,
        x: float,
        y: float,
        hit: Hit,
        reach_m: float,
        weight: float,
        heading: tuple[float, float] | None,
    ) -> Hit:
        """A far place is pending, maybe beyond the window (a first fix's): the fix's place
        along it if it fits there better than at `hit`."""
        lo_m = self._jump_along_m - self.params.window_back_m
        far = self.line.nearest(
            x, y, lo_m, self._jump_along_m + reach_m, self._jump_along_m, weight, heading
        )
        return far if far.offset_m < hit.offset_m else hit

    def _near_unless_sustained(
        self,
        x: float,
        y: float,
        t_s: float,
        far: Hit,
        lo: float,
        near_hi: float,
        expected: float,
        weight: float,
        limit_m: float,
        reach_m: float,
        heading: tuple[float, float] | None,
    ) -> Hit:
        """`far` lies further ahead than the courier could have gone: keep to the best
        place near the progress if the fix fits there, unless the fixes have kept fitting
        the far part better for `jump_s` and `jump_fixes`, moving along it (at least
        `jump_moved_m`, and up to `reach_m` a fix): a courier standing by a later pass
        (a finished drop next to it) is not on it."""
        p = self.params
        near = self.line.nearest(
            x, y, lo, near_hi, min(expected, near_hi), along_weight=weight, heading=heading
        )
        if near.offset_m > limit_m:
            self._jump_since_s, self._jump_count = None, 0
            return far  # nothing near fits: no doubt where the courier is
        following = (
            self._jump_since_s is not None
            and self._jump_along_m - p.window_back_m <= far.along_m
            and far.along_m <= self._jump_along_m + reach_m
        )
        if not following:
            self._jump_since_s, self._jump_count, self._jump_from_m = t_s, 0, far.along_m
        assert self._jump_since_s is not None
        self._jump_count += 1
        self._jump_along_m = far.along_m
        if (
            self._jump_count >= p.jump_fixes
            and t_s - self._jump_since_s >= p.jump_s
            and far.along_m - self._jump_from_m >= p.jump_moved_m  # not standing by it
        ):
            self._jump_since_s, self._jump_count = None, 0
            return far
        return near

    def _update_off_route(self, offset_m: float, beyond: bool, t_s: float) -> Transition | None:
        p = self.params
        if not self.off_route:
            if not beyond:
                self._beyond_since_s, self._beyond_count = None, 0
                return None
            if self._beyond_since_s is None:
                self._beyond_since_s = t_s
            self._beyond_count += 1
            if (
                t_s - self._beyond_since_s >= p.off_route_s
                and self._beyond_count >= p.off_route_fixes
            ):
                self.off_route, self._back_count = True, 0
                return Transition.OFF_ROUTE
            return None
        self._back_count = self._back_count + 1 if offset_m <= p.off_route_m else 0
        if self._back_count >= p.back_on_fixes:
            self.off_route = False
            self._beyond_since_s, self._beyond_count = None, 0
            return Transition.BACK_ON_ROUTE
        return None

    def _locate_provisional(self, x: float, y: float, t_s: float) -> Progress:
        """On a straight-line route the remaining distance is the straight line to the end,
        stretched; the courier is never "off" a line that is not a road."""
        line = self.line
        direct_m = math.hypot(x - self._end_xy[0], y - self._end_xy[1])
        along = min(max(line.length_m - direct_m * line.length_scale, 0.0), line.length_m)
        hit = line.nearest(x, y, 0.0, line.length_m)
        self.along_m = max(self.along_m, along)
        self._located_s = t_s
        return _progress(self.along_m, hit.offset_m, line.length_m - self.along_m, True)
