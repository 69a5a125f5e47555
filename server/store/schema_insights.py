"""Delivery performance facts and their rollups (issue 18; docs/api.md, "Insights").
Declared on the one `metadata` (server/store/schema.py), gathered by server/store/tables.py.

- `delivery_facts`: one row per delivery attempt of an order, written in the transaction
  of the status change it records (server/store/insights.py); the GPS arrival is added
  by the recorder when the tracker detects it.
- `eta_accuracy`: per attempt, the ETA the customer was shown at each horizon before the
  GPS arrival, and how far off it was.
- `insight_rollups` and `insight_counts`: sums and histogram counts per UTC hour, driver
  and zone, and per hour for the whole fleet (driver -1, zone "*"), kept up to date in the
  same transactions: the insights API reads these only.

A zone is the geohash (5 characters, cells about 4.9 km x 4.9 km) of the order's
destination, computed by PostGIS (`ST_GeoHash`).
"""

from __future__ import annotations

from sqlalchemy import (
    REAL,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
)

from server.store.schema import metadata

_at = DateTime(timezone=True)

delivery_facts = Table(
    "delivery_facts",
    metadata,
    Column("order_id", BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", SmallInteger, nullable=False),
    Column("driver_id", BigInteger),
    Column("zone", Text, nullable=False),
    Column("promised_by", _at),
    Column("window_start", _at),
    Column("window_end", _at),
    Column("assigned_at", _at),
    Column("out_for_delivery_at", _at),
    Column("arrived_at", _at),  # detected from GPS (the tracker's ARRIVED event)
    Column("arrived_reported_at", _at),  # the courier's "arrived" button, if pressed
    Column("finished_at", _at),  # delivered or failed; NULL while the attempt is open
    Column("outcome", Text, CheckConstraint("outcome IN ('delivered', 'failed')")),
    Column("failure_reason", Text),
    Column("dwell_s", REAL),  # GPS arrival -> finished
    Column("leg_started_at", _at),
    Column("leg_s", REAL),  # leg start -> finished: the courier's time on this stop
    Column("leg_distance_m", REAL),  # driven from the leg's start to the arrival
    Column("stops_on_run", Integer),  # at out for delivery
    PrimaryKeyConstraint("order_id", "attempt", name="delivery_facts_pkey"),
    Index("delivery_facts_driver_finished", "driver_id", "finished_at"),
)

eta_accuracy = Table(
    "eta_accuracy",
    metadata,
    Column("order_id", BigInteger, nullable=False),
    Column("attempt", SmallInteger, nullable=False),
    Column("horizon", Text, nullable=False),  # dispatch | 60 | 30 | 15 | 5 (minutes)
    Column("shown_at", _at, nullable=False),
    Column("eta_at", _at, nullable=False),
    Column("window_start", _at, nullable=False),
    Column("window_end", _at, nullable=False),
    Column("arrived_at", _at, nullable=False),
    Column("error_s", Float, nullable=False),  # eta_at - arrived_at: positive = arrived early
    Column("in_window", Boolean, nullable=False),
    PrimaryKeyConstraint("order_id", "attempt", "horizon", name="eta_accuracy_pkey"),
)

_sums: tuple[str, ...] = (
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
# Per ETA horizon (server/domain/performance.py, HORIZONS): arrivals with an ETA shown
# then, the sum of its absolute errors, and how many fell inside the window shown.
_HORIZONS = ("dispatch", "60", "30", "15", "5")
_sums += tuple(f"eta_{what}_{h}" for h in _HORIZONS for what in ("n", "in_window"))
_float_sums = ("dwell_s", "leg_s", "leg_distance_m", *(f"eta_abs_s_{h}" for h in _HORIZONS))

insight_rollups = Table(
    "insight_rollups",
    metadata,
    Column("hour", _at, nullable=False),
    Column("driver_id", BigInteger, nullable=False),  # 0: no driver
    Column("zone", Text, nullable=False),
    *(Column(name, Integer, nullable=False, server_default="0") for name in _sums),
    *(Column(name, Float, nullable=False, server_default="0") for name in _float_sums),
    PrimaryKeyConstraint("hour", "driver_id", "zone", name="insight_rollups_pkey"),
    Index("insight_rollups_zone", "zone", "hour"),
    Index("insight_rollups_driver", "driver_id", "hour"),
)

# Sparse histograms and counters beside the rollups: (metric, bucket) -> n, e.g.
# ("lateness", 13), ("dwell", 3), ("eta_error:30", 4), ("failed:not_home", 0).
insight_counts = Table(
    "insight_counts",
    metadata,
    Column("hour", _at, nullable=False),
    Column("driver_id", BigInteger, nullable=False),
    Column("zone", Text, nullable=False),
    Column("metric", Text, nullable=False),
    Column("bucket", SmallInteger, nullable=False),
    Column("n", Integer, nullable=False),
    PrimaryKeyConstraint(
        "hour", "driver_id", "zone", "metric", "bucket", name="insight_counts_pkey"
    ),
    Index("insight_counts_zone", "zone", "hour"),
    Index("insight_counts_driver", "driver_id", "hour"),
    Index("insight_counts_metric", "metric", "hour"),
)

SUM_COLUMNS = _sums + _float_sums

# Per UTC day (migration 0020): each driver's cells (zone "*") and each zone's (driver
# -1), added to with the hourly ones: the driver and zone tables read these for whole days.
insight_day_rollups = Table(
    "insight_day_rollups",
    metadata,
    Column("day", _at, nullable=False),
    Column("driver_id", BigInteger, nullable=False),
    Column("zone", Text, nullable=False),
    *(Column(name, Integer, nullable=False, server_default="0") for name in _sums),
    *(Column(name, Float, nullable=False, server_default="0") for name in _float_sums),
    PrimaryKeyConstraint("day", "driver_id", "zone", name="insight_day_rollups_pkey"),
)

insight_day_counts = Table(
    "insight_day_counts",
    metadata,
    Column("day", _at, nullable=False),
    Column("driver_id", BigInteger, nullable=False),
    Column("zone", Text, nullable=False),
    Column("metric", Text, nullable=False),
    Column("bucket", SmallInteger, nullable=False),
    Column("n", Integer, nullable=False),
    PrimaryKeyConstraint(
        "day", "driver_id", "zone", "metric", "bucket", name="insight_day_counts_pkey"
    ),
    # What the driver table reads (zone "*"), and the zone table (driver -1): index-only.
    Index(
        "insight_day_counts_drivers",
        "zone",
        "metric",
        "day",
        "driver_id",
        "bucket",
        postgresql_include=["n"],
    ),
    Index(
        "insight_day_counts_zones",
        "driver_id",
        "metric",
        "day",
        "zone",
        "bucket",
        postgresql_include=["n"],
    ),
)
