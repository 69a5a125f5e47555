"""Delivery performance: facts per delivery attempt, ETA accuracy per horizon, and the
hourly rollups the insights API reads (issue 18; server/store/schema_insights.py).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

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


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE delivery_facts (
            order_id bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
            attempt smallint NOT NULL,
            driver_id bigint,
            zone text NOT NULL,
            promised_by timestamptz,
            window_start timestamptz,
            window_end timestamptz,
            assigned_at timestamptz,
            out_for_delivery_at timestamptz,
            arrived_at timestamptz,
            arrived_reported_at timestamptz,
            finished_at timestamptz,
            outcome text CHECK (outcome IN ('delivered', 'failed')),
            failure_reason text,
            dwell_s real,
            leg_started_at timestamptz,
            leg_s real,
            leg_distance_m real,
            stops_on_run integer,
            CONSTRAINT delivery_facts_pkey PRIMARY KEY (order_id, attempt)
        )"""
    )
    op.execute(
        "CREATE INDEX delivery_facts_driver_finished ON delivery_facts (driver_id, finished_at)"
    )
    op.execute(
        """
        CREATE TABLE eta_accuracy (
            order_id bigint NOT NULL,
            attempt smallint NOT NULL,
            horizon text NOT NULL,
            shown_at timestamptz NOT NULL,
            eta_at timestamptz NOT NULL,
            window_start timestamptz NOT NULL,
            window_end timestamptz NOT NULL,
            arrived_at timestamptz NOT NULL,
            error_s double precision NOT NULL,
            in_window boolean NOT NULL,
            CONSTRAINT eta_accuracy_pkey PRIMARY KEY (order_id, attempt, horizon)
        )"""
    )
    sums = ",\n".join(f"{name} integer NOT NULL DEFAULT 0" for name in SUMS)
    floats = ",\n".join(f"{name} double precision NOT NULL DEFAULT 0" for name in FLOAT_SUMS)
    op.execute(
        f"""
        CREATE TABLE insight_rollups (
            hour timestamptz NOT NULL,
            driver_id bigint NOT NULL,
            zone text NOT NULL,
            {sums},
            {floats},
            CONSTRAINT insight_rollups_pkey PRIMARY KEY (hour, driver_id, zone)
        )"""
    )
    op.execute("CREATE INDEX insight_rollups_zone ON insight_rollups (zone, hour)")
    op.execute("CREATE INDEX insight_rollups_driver ON insight_rollups (driver_id, hour)")
    op.execute(
        """
        CREATE TABLE insight_counts (
            hour timestamptz NOT NULL,
            driver_id bigint NOT NULL,
            zone text NOT NULL,
            metric text NOT NULL,
            bucket smallint NOT NULL,
            n integer NOT NULL,
            CONSTRAINT insight_counts_pkey PRIMARY KEY (hour, driver_id, zone, metric, bucket)
        )"""
    )
    op.execute("CREATE INDEX insight_counts_zone ON insight_counts (zone, hour)")
    op.execute("CREATE INDEX insight_counts_driver ON insight_counts (driver_id, hour)")
    op.execute("CREATE INDEX insight_counts_metric ON insight_counts (metric, hour)")


def downgrade() -> None:
    for table in ("insight_counts", "insight_rollups", "eta_accuracy", "delivery_facts"):
        op.execute(f"DROP TABLE {table}")
