"""What one finished delivery attempt, or one GPS arrival, adds to the insights' rollups
(docs/api.md, "Insights"): pure, so the recording (server/store/insights.py) and the tests
that check the figures agree on one definition.

- On time against the promise: delivered at or before `promised_by`.
- In the window: delivered inside [window_start, window_end].
- Lateness: delivered minus the promise's latest time (the window's end, else
  `promised_by`; server/domain/lateness.py): negative is early.
- First-attempt success: the order's first attempt ended delivered.
- Time at the door: GPS arrival to delivered or failed.
- Driver time on a stop (`leg_s`): from the later of out for delivery and the driver's
  previous finished stop, to this one finished; stops per driver-hour = attempts over
  their sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from server.domain import lateness
from server.domain.histograms import DWELL, ETA_ERROR, LATENESS

# ETA horizons before the GPS arrival: at out for delivery ("dispatch"), then minutes.
HORIZONS: tuple[tuple[str, int | None], ...] = (
    ("dispatch", None),
    ("60", 60),
    ("30", 30),
    ("15", 15),
    ("5", 5),
)
HORIZON_NAMES = tuple(name for name, _ in HORIZONS)


@dataclass(frozen=True, slots=True)
class Finished:
    """A delivery attempt as it ended."""

    at: datetime
    delivered: bool
    reason: str | None
    attempt: int
    promised_by: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    dwell_s: float | None
    leg_s: float | None
    leg_distance_m: float | None


@dataclass(frozen=True, slots=True)
class Shown:
    """An ETA the customer was shown `horizon` before the GPS arrival."""

    horizon: str
    shown_at: datetime
    eta_at: datetime
    window: tuple[datetime, datetime]


@dataclass(slots=True)
class Delta:
    """What to add to one rollup cell: sums, and (metric, bucket) counts."""

    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[tuple[str, int], int] = field(default_factory=dict)

    def count(self, metric: str, bucket: int, n: int = 1) -> None:
        self.counts[(metric, bucket)] = self.counts.get((metric, bucket), 0) + n


def hour_of(at: datetime) -> datetime:
    """The rollup cell's hour (UTC, `at`'s zone kept)."""
    return at.replace(minute=0, second=0, microsecond=0)


def finished_delta(f: Finished) -> Delta:
    d = Delta()
    s = d.sums
    s["attempts"] = 1
    s["delivered" if f.delivered else "failed"] = 1
    if f.attempt == 1:
        s["first_attempts"] = 1
        s["first_attempt_ok"] = 1 if f.delivered else 0
    if not f.delivered:
        d.count(f"failed:{f.reason or 'unspecified'}", 0)
    if f.delivered and f.promised_by is not None:
        s["with_promise"] = 1
        s["on_time_promise"] = 1 if f.at <= f.promised_by else 0
    if f.delivered and f.window_start is not None and f.window_end is not None:
        s["with_window"] = 1
        s["in_window"] = 1 if f.window_start <= f.at <= f.window_end else 0
    due = lateness.due_by(f.promised_by, f.window_end)
    if f.delivered and due is not None:
        d.count(LATENESS.name, LATENESS.index((f.at - due).total_seconds()))
    if f.dwell_s is not None:
        at_door = dwell_delta(f.dwell_s)
        s.update(at_door.sums)
        d.counts.update(at_door.counts)
    s["leg_s"] = f.leg_s or 0.0
    s["leg_distance_m"] = f.leg_distance_m or 0.0
    return d


def dwell_delta(dwell_s: float) -> Delta:
    d = Delta({"dwell_n": 1, "dwell_s": dwell_s})
    d.count(DWELL.name, DWELL.index(dwell_s))
    return d


def eta_error_s(shown: Shown, arrived_at: datetime) -> float:
    """Positive: the courier came before the ETA shown."""
    return (shown.eta_at - arrived_at).total_seconds()


def in_window(shown: Shown, arrived_at: datetime) -> bool:
    return shown.window[0] <= arrived_at <= shown.window[1]


def arrival_delta(shown: list[Shown], arrived_at: datetime) -> Delta:
    d = Delta()
    for s in shown:
        error_s = eta_error_s(s, arrived_at)
        d.count(f"{ETA_ERROR.name}:{s.horizon}", ETA_ERROR.index(abs(error_s)))
        d.sums[f"eta_n_{s.horizon}"] = 1
        d.sums[f"eta_abs_s_{s.horizon}"] = abs(error_s)
        d.sums[f"eta_in_window_{s.horizon}"] = 1 if in_window(s, arrived_at) else 0
    return d


def horizon_at(arrived_at: datetime, minutes: int) -> datetime:
    return arrived_at - timedelta(minutes=minutes)
