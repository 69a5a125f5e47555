"""Quiet hours: when a non-urgent message waits until morning, in the customer's zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_quiet_hours(text: str) -> tuple[time, time]:
    """
    >>> parse_quiet_hours("21:30-08:00")
    (datetime.time(21, 30), datetime.time(8, 0))
    """
    start_text, sep, end_text = text.partition("-")
    try:
        if not sep:
            raise ValueError
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM") from None
    if start == end:
        raise ValueError("quiet hours must not start and end at the same time")
    return start, end


def quiet_until(now: datetime, quiet_hours: str, zone: str) -> datetime | None:
    """The end of the quiet period `now` falls in (UTC), or None outside quiet hours.

    >>> at = datetime(2026, 1, 10, 22, 15, tzinfo=UTC)
    >>> quiet_until(at, "21:00-08:00", "UTC").isoformat()
    '2026-01-11T08:00:00+00:00'
    >>> quiet_until(at, "21:00-08:00", "America/New_York") is None  # 17:15 there
    True
    """
    if not quiet_hours:
        return None
    start, end = parse_quiet_hours(quiet_hours)
    local = now.astimezone(ZoneInfo(zone))
    clock = local.time()
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    end_day = local.date() if clock < end else local.date() + timedelta(days=1)
    ends = datetime.combine(end_day, end, tzinfo=local.tzinfo)
    return ends.astimezone(UTC)
