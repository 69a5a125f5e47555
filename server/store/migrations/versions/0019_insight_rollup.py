"""Bottleneck insights (issue 18): the rollup of travel and of delivery outcomes per cell and hour,
couriers' stops,
the rollup's watermark, and an index of delivery outcomes by time.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE insight_cells (
            hour_at timestamptz NOT NULL,
            epsg integer NOT NULL,
            ix integer NOT NULL,
            iy integer NOT NULL,
            moving_s real NOT NULL,
            moving_m real NOT NULL,
            steps integer NOT NULL,
            CONSTRAINT insight_cells_pkey PRIMARY KEY (hour_at, epsg, ix, iy)
        )"""
    )
    op.execute("CREATE INDEX insight_cells_cell ON insight_cells (epsg, ix, iy, hour_at)")
    op.execute(
        """
        CREATE TABLE insight_outcomes (
            hour_at timestamptz NOT NULL,
            epsg integer NOT NULL,
            ix integer NOT NULL,
            iy integer NOT NULL,
            delivered integer NOT NULL,
            late integer NOT NULL,
            failed integer NOT NULL,
            CONSTRAINT insight_outcomes_pkey PRIMARY KEY (hour_at, epsg, ix, iy)
        )"""
    )
    op.execute(
        """
        CREATE TABLE insight_dwells (
            driver_id bigint NOT NULL,
            started_at timestamptz NOT NULL,
            ended_at timestamptz NOT NULL,
            epsg integer NOT NULL,
            ix integer NOT NULL,
            iy integer NOT NULL,
            dwell_s real NOT NULL,
            CONSTRAINT insight_dwells_pkey PRIMARY KEY (driver_id, started_at)
        )"""
    )
    op.execute("CREATE INDEX insight_dwells_started ON insight_dwells (started_at)")
    op.execute(
        """
        CREATE TABLE insight_watermark (
            id smallint PRIMARY KEY,
            rolled_up_to timestamptz NOT NULL
        )"""
    )
    op.execute(
        """CREATE INDEX order_events_outcome_at ON order_events (at)
           WHERE status IN ('delivered', 'failed')"""
    )


def downgrade() -> None:
    op.execute("DROP INDEX order_events_outcome_at")
    op.execute("DROP TABLE insight_watermark")
    op.execute("DROP TABLE insight_dwells")
    op.execute("DROP TABLE insight_outcomes")
    op.execute("DROP TABLE insight_cells")
