"""Tables of the bottleneck insights (docs/api.md, "Bottlenecks"): a small rollup of the
position history per map cell and UTC hour, the stops couriers made (dwell), and the
watermark up to which the history has been rolled up (server/store/insight_rollup.py).

Cells are squares of a UTM zone's grid (`epsg` 326xx/327xx, `ix`/`iy` = floor(metres /
cell_m)), the same grid as the learned speed profile's fine cells (geo/speed_profile.py).
"""

from __future__ import annotations

from sqlalchemy import (
    REAL,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    text,
)

from server.store.schema import metadata, order_events

# Travel per cell and hour: seconds and metres between consecutive fixes (stops shorter
# than a dwell included: lights and jams are part of the driven speed), and how many steps.
insight_cells = Table(
    "insight_cells",
    metadata,
    Column("hour_at", DateTime(timezone=True), nullable=False),
    Column("epsg", Integer, nullable=False),
    Column("ix", Integer, nullable=False),
    Column("iy", Integer, nullable=False),
    Column("moving_s", REAL, nullable=False),
    Column("moving_m", REAL, nullable=False),
    Column("steps", Integer, nullable=False),
    PrimaryKeyConstraint("hour_at", "epsg", "ix", "iy", name="insight_cells_pkey"),
    Index("insight_cells_cell", "epsg", "ix", "iy", "hour_at"),
)

# Delivery outcomes per destination cell and UTC hour: deliveries, those after their
# promise (the window's end, else promised_by), failed attempts.
insight_outcomes = Table(
    "insight_outcomes",
    metadata,
    Column("hour_at", DateTime(timezone=True), nullable=False),
    Column("epsg", Integer, nullable=False),
    Column("ix", Integer, nullable=False),
    Column("iy", Integer, nullable=False),
    Column("delivered", Integer, nullable=False),
    Column("late", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    PrimaryKeyConstraint("hour_at", "epsg", "ix", "iy", name="insight_outcomes_pkey"),
)

# One row per stop of a courier at least the dwell minimum long, where it happened.
insight_dwells = Table(
    "insight_dwells",
    metadata,
    Column("driver_id", BigInteger, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    Column("epsg", Integer, nullable=False),
    Column("ix", Integer, nullable=False),
    Column("iy", Integer, nullable=False),
    Column("dwell_s", REAL, nullable=False),
    PrimaryKeyConstraint("driver_id", "started_at", name="insight_dwells_pkey"),
    Index("insight_dwells_started", "started_at"),
)

# The single row: positions recorded up to `rolled_up_to` are in the rollup.
insight_watermark = Table(
    "insight_watermark",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("rolled_up_to", DateTime(timezone=True), nullable=False),
)

# Deliveries and failed attempts by when they happened (the rollup reads them by time;
# the `late` heat map too).
Index(
    "order_events_outcome_at",
    order_events.c.at,
    postgresql_where=text("status IN ('delivered', 'failed')"),
)
