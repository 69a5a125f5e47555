"""Speed, heading and stops from successive fixes.

Speed between two fixes a second apart is mostly GPS noise, so it is measured over a span of
at least a few seconds; a device's own speed reading, when present, is trusted instead.
"""

from __future__ import annotations

import math
from collections import deque

# Displacement shorter than this says nothing about the direction of travel.
_HEADING_MIN_M = 15.0


class Motion:
    """Per-driver motion state in a route's metric frame."""

    __slots__ = (
        "_recent",
        "heading",
        "speed_mps",
        "speed_span_s",
        "stop_speed_mps",
        "stopped_since_s",
    )

    def __init__(self, stop_speed_mps: float = 1.5, speed_span_s: float = 5.0) -> None:
        self.stop_speed_mps = stop_speed_mps
        self.speed_span_s = speed_span_s
        self._recent: deque[tuple[float, float, float]] = deque(maxlen=16)
        self.speed_mps: float | None = None
        self.heading: tuple[float, float] | None = None  # unit vector (east, north)
        self.stopped_since_s: float | None = None

    def update(
        self,
        x: float,
        y: float,
        t_s: float,
        speed_mps: float | None = None,
        heading_deg: float | None = None,
    ) -> None:
        recent = self._recent
        reference = None
        for entry in reversed(recent):
            reference = entry
            if t_s - entry[0] >= self.speed_span_s:
                break
        recent.append((t_s, x, y))
        moved_m = 0.0
        if reference is not None:
            dx, dy = x - reference[1], y - reference[2]
            moved_m = math.hypot(dx, dy)
            if speed_mps is None and t_s > reference[0]:
                speed_mps = moved_m / (t_s - reference[0])
            if moved_m >= _HEADING_MIN_M:
                self.heading = (dx / moved_m, dy / moved_m)
        if heading_deg is not None and (speed_mps or 0.0) > self.stop_speed_mps:
            rad = math.radians(heading_deg)
            self.heading = (math.sin(rad), math.cos(rad))
        self.speed_mps = speed_mps
        if speed_mps is not None and speed_mps < self.stop_speed_mps:
            if self.stopped_since_s is None:
                self.stopped_since_s = reference[0] if reference is not None else t_s
        elif speed_mps is not None:
            self.stopped_since_s = None

    def stopped_for_s(self, t_s: float) -> float:
        return 0.0 if self.stopped_since_s is None else t_s - self.stopped_since_s
