"""SQL that reads the insights' rollups (server/store/insights.py keeps them): sums and
histogram counts over a time range, grouped by a time bucket in the operator's time
zone, by driver or by zone. Never the facts or the positions: the rollups are a row per
hour, driver and zone that had something happen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from server.store import Conn
from server.store.insights import ANY_ZONE, FLEET_DRIVER
from server.store.schema_insights import SUM_COLUMNS

# What a group is keyed by: the SQL expression, for each kind of table ({tz}: the
# operator's time zone's parameter).
GROUPS = {
    "all": "''",
    "hour": "to_char(date_trunc('hour', hour AT TIME ZONE {tz}), 'YYYY-MM-DD\"T\"HH24:MI')",
    "day": "to_char(date_trunc('day', hour AT TIME ZONE {tz}), 'YYYY-MM-DD')",
    "week": "to_char(date_trunc('week', hour AT TIME ZONE {tz}), 'YYYY-MM-DD')",
    "driver": "driver_id::text",
    "zone": "zone",
}


@dataclass(slots=True)
class Group:
    """One row of a table: the sums, and (metric, bucket) -> count."""

    key: str
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, dict[int, int]] = field(default_factory=dict)


async def grouped(
    conn: Conn,
    by: str,
    from_at: datetime,
    to_at: datetime,
    driver_id: int | None,
    zone: str | None,
    time_zone: str,
    metrics: Sequence[str] | None = None,
) -> list[Group]:
    """The rollups in [from_at, to_at) (whole hours), filtered, summed per group, in key
    order; only these histograms (`metrics`) when given."""
    # Only the conditions asked for, written out: a statement per combination, each
    # planned for what it filters on (`$3 IS NULL OR driver_id = $3` would keep indexes
    # out of the generic plan PostgreSQL settles on after a few calls).
    args: list[object] = [from_at, to_at]

    def param(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    # The whole fleet over time: its own cells (store/insights.py, FLEET_DRIVER); else
    # the cells of each driver and zone.
    fleet = driver_id is None and zone is None and by in ("all", "hour", "day", "week")
    where = [
        "hour >= $1",
        "hour < $2",
        f"driver_id = {FLEET_DRIVER}" if fleet else "driver_id >= 0",
    ]
    if driver_id is not None:
        where.append(f"driver_id = {param(driver_id)}")
    if zone is not None:
        where.append(f"zone = {param(zone)}")
    key = GROUPS[by].format(tz=param(time_zone) + "::text") if "{tz}" in GROUPS[by] else GROUPS[by]
    sums = ", ".join(f"sum({c}) AS {c}" for c in SUM_COLUMNS)
    rollups, counts_from = "insight_rollups", "insight_counts"
    days = _whole_days(from_at, to_at) if by in ("driver", "zone") and not fleet else None
    if days is not None and driver_id is None and zone is None:
        # The whole days from the daily cells of each driver or zone, the hours at either
        # end (a time zone's days are not UTC's) from the hourly ones.
        first, end = param(days[0]), param(days[1])
        daily = f"day >= {first} AND day < {end} AND " + (
            f"zone = '{ANY_ZONE}' AND driver_id >= 0"
            if by == "driver"
            else f"driver_id = {FLEET_DRIVER}"
        )
        where = [
            f"driver_id >= 0 AND (hour >= $1 AND hour < {first} OR hour >= {end} AND hour < $2)"
        ]
        column = "driver_id" if by == "driver" else "zone"  # cast once per group
        columns = ", ".join(SUM_COLUMNS)
        rollups = f"""(SELECT {column} AS g, {columns} FROM insight_day_rollups WHERE {daily}
            UNION ALL SELECT {column} AS g, {columns} FROM insight_rollups
            WHERE {" AND ".join(where)}) AS r"""
        counts_from = f"""(SELECT {column} AS g, metric, bucket, n FROM insight_day_counts
            WHERE {daily} UNION ALL SELECT {column} AS g, metric, bucket, n FROM insight_counts
            WHERE {" AND ".join(where)}) AS c"""
        # GROUP BY g: the input column (PostgreSQL prefers it), ORDER BY g: the text.
        key, where = "g::text", ["true"]
    async with conn.transaction():
        # Planned for these times each call: a generic plan cannot tell a day from a year.
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        rows = await conn.fetch(
            f"""SELECT {key} AS g, {sums} FROM {rollups}
                WHERE {" AND ".join(where)} GROUP BY g ORDER BY g""",
            *args,
        )
        if metrics is not None:
            where.append(f"metric = any({param(list(metrics))}::text[])")
        counts = await conn.fetch(
            f"""SELECT {key} AS g, metric, bucket, sum(n) AS n FROM {counts_from}
                WHERE {" AND ".join(where)} GROUP BY g, metric, bucket""",
            *args,
        )
    groups = {r["g"]: Group(r["g"], {c: float(r[c] or 0) for c in SUM_COLUMNS}) for r in rows}
    for r in counts:  # tens of thousands of rows for a month of a fleet: no garbage each
        group = groups.get(r["g"])
        if group is None:
            group = groups[r["g"]] = Group(r["g"], dict.fromkeys(SUM_COLUMNS, 0.0))
        histogram = group.counts.get(r["metric"])
        if histogram is None:
            histogram = group.counts[r["metric"]] = {}
        histogram[r["bucket"]] = int(r["n"])
    return sorted(groups.values(), key=lambda g: g.key)


def _whole_days(from_at: datetime, to_at: datetime) -> tuple[datetime, datetime] | None:
    """The UTC midnights of the first and after the last whole UTC day in [from_at,
    to_at), if there is one."""
    first = from_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if first < from_at:
        first += timedelta(days=1)
    end = to_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (first, end) if first < end else None


async def driver_names(conn: Conn, ids: Sequence[int]) -> dict[int, str]:
    rows = await conn.fetch("SELECT id, name FROM drivers WHERE id = any($1::bigint[])", list(ids))
    return {r["id"]: r["name"] for r in rows}


async def driver_exists(conn: Conn, driver_id: int) -> bool:
    return bool(
        await conn.fetchval("SELECT EXISTS (SELECT 1 FROM drivers WHERE id = $1)", driver_id)
    )


async def zone_known(conn: Conn, zone: str) -> bool:
    """A zone some delivery was recorded in."""
    return bool(
        await conn.fetchval("SELECT EXISTS (SELECT 1 FROM insight_rollups WHERE zone = $1)", zone)
    )


async def today_groups(conn: Conn, from_at: datetime, to_at: datetime) -> Group | None:
    """The whole fleet's sums over [from_at, to_at), for the gauges."""
    groups = await grouped(conn, "all", from_at, to_at, None, None, "UTC")
    return groups[0] if groups else None


async def sizes(conn: Conn) -> tuple[int, int]:
    """Rows in the rollups and in their counts (the seeding tool reports them)."""
    rollups = await conn.fetchval("SELECT count(*) FROM insight_rollups")
    counts = await conn.fetchval("SELECT count(*) FROM insight_counts")
    return int(rollups), int(counts)


async def busiest_driver(conn: Conn) -> int | None:
    """The driver with the most rollup rows (the seeding tool's benchmark filters by it)."""
    found = await conn.fetchval(
        """SELECT driver_id FROM insight_rollups WHERE driver_id > 0
           GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"""
    )
    return None if found is None else int(found)
