"""Delivery performance for dispatchers (docs/api.md, "Insights"):

- `GET /api/insights/summary?from=&to=&driver_id=&zone=`: the figures, and the same for
  the period of equal length before;
- `GET /api/insights/series?bucket=hour|day|week&…`, `GET /api/insights/drivers`,
  `GET /api/insights/zones`: tables, each also as `format=csv`.

Dispatcher and admin keys only: the tables name drivers and rate their work, which is
not customer service's business (support: 403). `from` and `to` are operator-local days
(YYYY-MM-DD, both inclusive; TRACKER_OPERATOR_TIME_ZONE, stated in every answer);
default: the last 7 days up to today. Every answer reads the rollups only.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from server.edges.guards import guarded
from server.edges.responses import error_response, json_response
from server.edges.rest.params import check_known, query_int
from server.edges.services import Caller, Services
from server.usecases.insights import reports
from server.wire import insights as wire
from server.wire.exports import MEDIA_TYPES, table_csv

DEFAULT_DAYS = 7
HOUR_BUCKET_MAX_DAYS = 31  # 744 rows at most
FIRST_YEAR, LAST_YEAR = 1971, 9998
ZONE = re.compile(r"[0123456789bcdefghjkmnpqrstuvwxyz]{5}")  # geohash, 5 characters
_FILTERS = frozenset({"from", "to", "driver_id", "zone"})


class BadQuery(ValueError):
    pass


def _day(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name, "")
    if not raw:
        return None
    try:
        if len(raw) != 10:
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadQuery(f"{name} must be a day, YYYY-MM-DD (operator-local)") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:  # the period before must be a date too
        raise BadQuery(f"{name} must be a day of the years {FIRST_YEAR} to {LAST_YEAR}")
    return day


def _filters(
    request: Request, services: Services, extra: frozenset[str]
) -> tuple[reports.Period, int | None, str | None]:
    query = request.query_params
    check_known(query, _FILTERS | extra)
    tz = services.settings.operator_time_zone
    last = _day(request, "to") or reports.today(tz, datetime.now(UTC))
    first = _day(request, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadQuery("from must not be after to")
    period = reports.Period(first, last, tz)
    most = services.settings.insights_max_range_days
    if period.days > most:
        raise BadQuery(
            f"from..to spans {period.days} days, over TRACKER_INSIGHTS_MAX_RANGE_DAYS={most}"
        )
    driver_id = query_int(query, "driver_id", None, 1)
    zone = query.get("zone") or None
    if zone is not None and not ZONE.fullmatch(zone):
        raise BadQuery("zone must be a 5-character geohash (lower case), e.g. ez3f5")
    return period, driver_id, zone


def _format(request: Request) -> str:
    fmt = request.query_params.get("format") or "json"
    if fmt not in ("json", "csv"):
        raise BadQuery("format must be json or csv")
    return fmt


@guarded("dispatcher")
async def summary(request: Request, caller: Caller, services: Services) -> Response:
    try:
        period, driver_id, zone = _filters(request, services, frozenset())
        answer = await reports.summary(services, period, driver_id, zone)
    except (ValueError, reports.UnknownFilter) as exc:
        return _refused(exc)
    return json_response(wire.summary(answer))


async def _table(request: Request, services: Services, by: str, name: str) -> Response:
    extra = frozenset({"format", "bucket"} if by in ("hour", "day", "week") else {"format"})
    try:
        fmt = _format(request)
        period, driver_id, zone = _filters(request, services, extra)
        if by == "hour" and period.days > HOUR_BUCKET_MAX_DAYS:
            raise BadQuery(f"bucket=hour covers at most {HOUR_BUCKET_MAX_DAYS} days")
        rows = await reports.table(services, by, period, driver_id, zone)
    except (ValueError, reports.UnknownFilter) as exc:
        return _refused(exc)
    tz = services.settings.operator_time_zone
    if fmt == "csv":
        columns = ["time_zone", *(list(rows[0]) if rows else [_KEYS[by]])]
        rows = [{"time_zone": tz, **row} for row in rows]
        headers = {
            "Content-Disposition": f'attachment; filename="insights-{name}.csv"',
            "X-Time-Zone": tz,
        }
        return Response(table_csv(columns, rows), 200, headers, MEDIA_TYPES["csv"])
    answer: dict[str, Any] = {"time_zone": tz, **period.describe(), "rows": rows}
    if by in ("hour", "day", "week"):
        answer["bucket"] = by
    return json_response(wire.table(answer))


_KEYS = {"hour": "bucket", "day": "bucket", "week": "bucket", "driver": "driver_id", "zone": "zone"}


def _refused(exc: Exception) -> Response:
    if isinstance(exc, reports.UnknownFilter):
        return error_response(404, str(exc))
    return error_response(422, str(exc))


@guarded("dispatcher")
async def series(request: Request, caller: Caller, services: Services) -> Response:
    bucket = request.query_params.get("bucket") or "day"
    if bucket not in ("hour", "day", "week"):
        return error_response(422, "bucket must be hour, day or week")
    return await _table(request, services, bucket, f"series-{bucket}")


@guarded("dispatcher")
async def drivers(request: Request, caller: Caller, services: Services) -> Response:
    return await _table(request, services, "driver", "drivers")


@guarded("dispatcher")
async def zones(request: Request, caller: Caller, services: Services) -> Response:
    return await _table(request, services, "zone", "zones")
