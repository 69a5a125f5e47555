"""Fixed-bucket histograms for the delivery insights' medians and p90s (docs/api.md,
"Insights"): each figure is counted into a bucket of a fixed width, so rollups add up
counts (server/store/insights.py) and a quantile is read back from the sums, exact to a
bucket's width (interpolated linearly inside it).

Bucket 0 holds what lies below `low`; bucket `count + 1` what lies at or above `high`.

>>> DWELL.index(-1.0), DWELL.index(0.0), DWELL.index(29.9), DWELL.index(1e9)
(0, 1, 1, 61)
>>> quantile(DWELL, {1: 1, 2: 1}, 0.5)  # one in 0..30 s, one in 30..60 s
30.0
>>> quantile(DWELL, {}, 0.5) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Buckets:
    name: str  # what the rollups store it as (`insight_counts.metric`)
    low: float
    width: float
    count: int

    @property
    def high(self) -> float:
        return self.low + self.width * self.count

    def index(self, value: float) -> int:
        if value < self.low:
            return 0
        if value >= self.high:
            return self.count + 1
        return 1 + math.floor((value - self.low) / self.width)


# Lateness against the promise (delivered minus the window's end, else promised_by), in
# seconds: from an hour early to three hours late, by five minutes.
LATENESS = Buckets("lateness", -3_600.0, 300.0, 48)
# Time at the door (GPS arrival to delivered or failed): up to 30 minutes, by 30 seconds.
DWELL = Buckets("dwell", 0.0, 30.0, 60)
# An ETA's absolute error against the GPS arrival: up to 45 minutes, by 30 seconds.
ETA_ERROR = Buckets("eta_error", 0.0, 30.0, 90)


def quantile(buckets: Buckets, counts: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0..1) of what was counted (bucket index -> count), or None when
    nothing was. Below `low` reads as `low`, at or above `high` as `high`."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    for index in sorted(counts):
        n = counts[index]
        if n <= 0:
            continue
        if seen + n >= rank:
            if index == 0:
                return buckets.low
            if index > buckets.count:
                return buckets.high
            start = buckets.low + (index - 1) * buckets.width
            return start + buckets.width * max(0.0, rank - seen) / n
        seen += n
    return buckets.high
