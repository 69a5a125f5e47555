"""A stop's ETA as customers see it: a time, a window, a confidence, and why it moved.

The raw estimate is recomputed on every fix; what is published only moves when it moved
materially (more than a minute, or more than a tenth of the time left), so a customer's
countdown does not jitter with every fix.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from geo.params import TrackerParams

Confidence = Literal["high", "medium", "low"]
# The widest window (its spread: high over low ratio) an estimate is still 'high' with.
HIGH_MAX_SPREAD = 0.6


@dataclass(frozen=True, slots=True)
class StopEta:
    """ETA at one remaining stop: travel plus the service time of the stops before it.

    `reason` is set on the update where the published ETA moved materially.
    """

    stop_id: str
    eta_at: datetime
    eta_s: float
    remaining_m: float
    window: tuple[datetime, datetime]
    confidence: Confidence
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The contract's ETA fields (`eta`, `eta_s`, `remaining_m`, `window`, `confidence`)."""
        return {
            "stop_id": self.stop_id,
            "eta": iso(self.eta_at),
            "eta_s": round(self.eta_s),
            "remaining_m": round(self.remaining_m),
            "window": [iso(self.window[0]), iso(self.window[1])],
            "confidence": self.confidence,
            "reason": self.reason,
        }


def iso(at: datetime) -> str:
    """An instant as the contract shows ETAs: whole seconds, UTC (what `to_json` gives).

    >>> from datetime import UTC
    >>> iso(datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC))
    '2026-01-02T03:04:05Z'
    """
    return _iso_seconds(int(at.timestamp()))


@functools.lru_cache(maxsize=8192)
def _iso_seconds(epoch_s: int) -> str:
    # Every published ETA is formatted on every fix; the same few instants recur.
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


class EtaGate:
    """The published arrival instant of one stop (epoch seconds), moved only materially.

    >>> gate, p = EtaGate(), TrackerParams()
    >>> gate.offer(1000.0, 0.0, p), gate.offer(1030.0, 10.0, p), gate.offer(1100.0, 20.0, p)
    (True, False, True)
    """

    __slots__ = ("published_at_s",)

    def __init__(self) -> None:
        self.published_at_s: float | None = None

    def offer(self, raw_at_s: float, now_s: float, params: TrackerParams) -> bool:
        """Consider a fresh estimate; True when the published ETA changed materially."""
        published = self.published_at_s
        if published is None:
            self.published_at_s = raw_at_s
            return True
        remaining_s = max(raw_at_s - now_s, 0.0)
        threshold = max(
            params.eta_change_min_s,
            min(params.eta_change_s, params.eta_change_fraction * remaining_s),
        )
        if abs(raw_at_s - published) > threshold:
            self.published_at_s = raw_at_s
            return True
        if published < now_s:
            # Due and not there yet: follow the estimate quietly rather than show the past.
            self.published_at_s = raw_at_s
        return False


def confidence(
    *,
    provisional: bool,
    off_route: bool,
    long_stop: bool,
    coverage: float,
    spread: float,
) -> Confidence:
    """'low' when the estimate stands on no road (provisional route, off route) or on an
    unexplained stop; 'high' when the history covers most of the way and its window is
    narrow; 'medium' otherwise."""
    if provisional or off_route or long_stop:
        return "low"
    if coverage >= 0.5 and spread <= HIGH_MAX_SPREAD:
        return "high"
    return "medium"


def change_reason(
    *, off_route: bool, back_on_route: bool, long_stop: bool, ratio: float, later: bool
) -> str:
    """Why a published ETA moved, in words a customer or dispatcher can read."""
    if off_route:
        return "off route"
    if back_on_route:
        return "back on route"
    if long_stop and later:
        return "stopped"
    if ratio > 1.15 and later:
        return "slower than usual"
    if ratio < 0.87 and not later:
        return "faster than usual"
    return "later than expected" if later else "earlier than expected"
