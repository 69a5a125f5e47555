"""Daily rollups beside the hourly ones (issue 18): per UTC day, each driver's cells
(zone "*") and each zone's (driver -1), so the driver and zone tables read a row per
driver or zone and day instead of one per hour, driver and zone. Filled from the hourly
rollups; kept up to date in the same transactions from now on (server/store/insights.py).

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# The sums as 0018 made them.
SUMS: tuple[str, ...] = (
    "attempts",
    "delivered",
    "failed",
    "first_attempts",
    "first_attempt_ok",
    "with_promise",
    "on_time_promise",
    "with_window",
    "in_window",
    "dwell_n",
)
HORIZONS = ("dispatch", "60", "30", "15", "5")
SUMS += tuple(f"eta_{what}_{h}" for h in HORIZONS for what in ("n", "in_window"))
FLOAT_SUMS = ("dwell_s", "leg_s", "leg_distance_m", *(f"eta_abs_s_{h}" for h in HORIZONS))
_DAY = "date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def upgrade() -> None:
    sums = ",\n".join(f"{name} integer NOT NULL DEFAULT 0" for name in SUMS)
    floats = ",\n".join(f"{name} double precision NOT NULL DEFAULT 0" for name in FLOAT_SUMS)
    op.execute(
        f"""
        CREATE TABLE insight_day_rollups (
            day timestamptz NOT NULL,
            driver_id bigint NOT NULL,
            zone text NOT NULL,
            {sums},
            {floats},
            CONSTRAINT insight_day_rollups_pkey PRIMARY KEY (day, driver_id, zone)
        )"""
    )
    op.execute(
        """
        CREATE TABLE insight_day_counts (
            day timestamptz NOT NULL,
            driver_id bigint NOT NULL,
            zone text NOT NULL,
            metric text NOT NULL,
            bucket smallint NOT NULL,
            n integer NOT NULL,
            CONSTRAINT insight_day_counts_pkey PRIMARY KEY (day, driver_id, zone, metric, bucket)
        )"""
    )
    # What the driver table reads (zone "*"), and the zone table (driver -1): index-only.
    op.execute(
        """CREATE INDEX insight_day_counts_drivers
           ON insight_day_counts (zone, metric, day, driver_id, bucket) INCLUDE (n)"""
    )
    op.execute(
        """CREATE INDEX insight_day_counts_zones
           ON insight_day_counts (driver_id, metric, day, zone, bucket) INCLUDE (n)"""
    )
    columns = ", ".join((*SUMS, *FLOAT_SUMS))
    total = ", ".join(f"sum({c})" for c in (*SUMS, *FLOAT_SUMS))
    for driver, zone in (("driver_id", "'*'"), ("-1", "zone")):
        op.execute(
            f"""INSERT INTO insight_day_rollups (day, driver_id, zone, {columns})
                SELECT {_DAY}, {driver}, {zone}, {total} FROM insight_rollups
                WHERE driver_id >= 0 GROUP BY 1, 2, 3"""
        )
        op.execute(
            f"""INSERT INTO insight_day_counts (day, driver_id, zone, metric, bucket, n)
                SELECT {_DAY}, {driver}, {zone}, metric, bucket, sum(n) FROM insight_counts
                WHERE driver_id >= 0 GROUP BY 1, 2, 3, 4, 5"""
        )


def downgrade() -> None:
    op.execute("DROP TABLE insight_day_counts")
    op.execute("DROP TABLE insight_day_rollups")
