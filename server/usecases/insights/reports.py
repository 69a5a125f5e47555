"""What the insights API answers (docs/api.md, "Insights"): a period of operator-local
days, turned into UTC instants, and the rollups over it as figures (figures.py).

Days and weeks follow the operator's time zone (TRACKER_OPERATOR_TIME_ZONE); rollups are
kept per UTC hour, so a day of a zone whose offset is not whole hours (e.g. +05:30) is
counted from the UTC hour its local midnight falls in.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from asyncpg.pool import PoolConnectionProxy

from server.base.settings import Settings
from server.domain.histograms import DWELL, LATENESS
from server.store import insight_queries as queries
from server.store.schema_insights import SUM_COLUMNS
from server.usecases.insights.figures import figures, flat

TABLES = ("hour", "day", "week", "driver", "zone")
# The histograms the driver and zone tables read: a row per driver (zone) and bucket over
# every cell of the period is what these tables cost, and the ETA's error histograms
# were two thirds of them; their p90 is the summary's and the series' (mean and window
# coverage come from sums, and stay).
TABLE_METRICS = (LATENESS.name, DWELL.name)


class InsightServices(Protocol):
    @property
    def settings(self) -> Settings: ...
    def db(self) -> AbstractAsyncContextManager[PoolConnectionProxy]: ...


class UnknownFilter(LookupError):
    """A driver or zone the filter names is not known (404)."""


@dataclass(frozen=True, slots=True)
class Period:
    first_day: date
    last_day: date  # inclusive
    time_zone: str

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def from_at(self) -> datetime:
        return _midnight(self.first_day, self.time_zone)

    @property
    def to_at(self) -> datetime:
        return _midnight(self.last_day + timedelta(days=1), self.time_zone)

    def previous(self) -> Period:
        """The period of equal length just before."""
        return Period(
            self.first_day - timedelta(days=self.days),
            self.first_day - timedelta(days=1),
            self.time_zone,
        )

    def describe(self) -> dict[str, str]:
        return {
            "from": self.first_day.isoformat(),
            "to": self.last_day.isoformat(),
            "from_at": self.from_at.isoformat(),
            "to_at": self.to_at.isoformat(),
        }


def _midnight(day: date, time_zone: str) -> datetime:
    """The UTC hour holding the day's local midnight (see the module docstring)."""
    at = datetime.combine(day, time(0), ZoneInfo(time_zone)).astimezone(UTC)
    return at.replace(minute=0, second=0, microsecond=0)


def today(time_zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(time_zone)).date()


async def _check_filters(
    conn: PoolConnectionProxy, driver_id: int | None, zone: str | None
) -> None:
    if driver_id is not None and not await queries.driver_exists(conn, driver_id):
        raise UnknownFilter(f"no driver with id {driver_id}")
    if zone is not None and not await queries.zone_known(conn, zone):
        raise UnknownFilter(f"no delivery was recorded in zone {zone!r}")


async def summary(
    services: InsightServices, period: Period, driver_id: int | None, zone: str | None
) -> dict[str, Any]:
    """The figures over the period and over the one before it."""
    tz = period.time_zone
    answer: dict[str, Any] = {"time_zone": tz, "driver_id": driver_id, "zone": zone}
    async with services.db() as conn:
        await _check_filters(conn, driver_id, zone)
        for name, p in (("current", period), ("previous", period.previous())):
            groups = await queries.grouped(conn, "all", p.from_at, p.to_at, driver_id, zone, tz)
            group = groups[0] if groups else queries.Group("", _zero_sums())
            answer[name] = {**p.describe(), **figures(group)}
    return answer


async def table(
    services: InsightServices, by: str, period: Period, driver_id: int | None, zone: str | None
) -> list[dict[str, Any]]:
    """One row per time bucket, driver or zone with something recorded, in key order."""
    tz = period.time_zone
    async with services.db() as conn:
        await _check_filters(conn, driver_id, zone)
        metrics = TABLE_METRICS if by in ("driver", "zone") else None
        groups = await queries.grouped(
            conn, by, period.from_at, period.to_at, driver_id, zone, tz, metrics
        )
        names = {}
        if by == "driver":
            names = await queries.driver_names(conn, [int(g.key) for g in groups])
    rows: list[dict[str, Any]] = []
    for group in groups:
        if by == "driver":
            driver = int(group.key)
            head: dict[str, Any] = {"driver_id": driver or None, "name": names.get(driver)}
        elif by == "zone":
            head = {"zone": group.key}
        else:
            head = {"bucket": group.key}
        rows.append({**head, **flat(group)})
    return rows


def _zero_sums() -> dict[str, float]:
    return dict.fromkeys(SUM_COLUMNS, 0.0)
