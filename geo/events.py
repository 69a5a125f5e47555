"""What the tracker tells the rest of the system, once each: the input to timelines,
notifications and the dispatcher's alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EventKind(StrEnum):
    OFF_ROUTE = "off_route"
    BACK_ON_ROUTE = "back_on_route"
    ARRIVING = "arriving"  # once per stop: ETA or distance below the threshold
    ARRIVED = "arrived"  # once per stop: dwelt inside the radius; `at` is when it got there
    PASSED = "passed"  # once per stop: driven past without stopping there
    ETA_CHANGED = "eta_changed"  # a stop's published ETA moved materially; detail = reason


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    at: datetime
    stop_id: str | None = None
    detail: str = ""
