"""Tables, declared once (SQLAlchemy + geoalchemy2). Migrations must produce exactly this;
tests/server/test_migrations.py compares the migrated database against it.

`positions` is range-partitioned by day on `recorded_at` (partitions are managed by
server/store/partitions.py). No GiST index on it: it makes COPY several times slower,
and BRIN on time plus the (driver_id, recorded_at) key serve the history queries.
There is no foreign key from positions to drivers either, to keep the hot insert path to
one index; drivers are never hard-deleted.
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    REAL,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    false,
    func,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = MetaData()


def point_type() -> Geometry:
    return Geometry("POINT", srid=4326, spatial_index=False)


drivers = Table(
    "drivers",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("name", Text, nullable=False),
    Column("phone", Text),
    Column("vehicle", Text),
    Column("device_id", Text, unique=True),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

_reading_columns = (
    ("accuracy_m", REAL),
    ("speed_mps", REAL),
    ("heading_deg", REAL),
    ("altitude_m", REAL),
    ("battery", REAL),
)

positions = Table(
    "positions",
    metadata,
    Column("driver_id", BigInteger, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("geom", point_type(), nullable=False),
    *(Column(name, kind) for name, kind in _reading_columns),
    Column("attributes", JSONB),
    # Re-sent fixes collide here and are stored once; also the (driver, time) index.
    PrimaryKeyConstraint("driver_id", "recorded_at", name="positions_pkey"),
    Index("positions_recorded_at_brin", "recorded_at", postgresql_using="brin"),
    postgresql_partition_by="RANGE (recorded_at)",
)

driver_latest = Table(
    "driver_latest",
    metadata,
    Column("driver_id", BigInteger, ForeignKey("drivers.id"), primary_key=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("geom", point_type(), nullable=False),
    *(Column(name, kind) for name, kind in _reading_columns),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("name", Text, nullable=False),
    Column(
        "role", Text, CheckConstraint("role IN ('admin', 'dispatcher', 'support')"), nullable=False
    ),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),  # a revoked key answers 401 everywhere
)

_SEARCHED = {
    "reference": "orders_search_reference",
    "tracking_code": "orders_search_code",
    "customer_name": "orders_search_name",
    "customer_email": "orders_search_email",
    "customer_phone": "orders_search_phone",
}

orders = Table(
    "orders",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("reference", Text),
    # Normalised Crockford base32 (no dashes); shown grouped. Random, never derived from id.
    Column("tracking_code", Text, nullable=False, unique=True),
    Column("customer_name", Text, nullable=False),
    Column("customer_email", Text),
    Column("customer_phone", Text),
    Column("destination", point_type(), nullable=False),
    Column("address", Text),
    Column("promised_by", DateTime(timezone=True)),
    Column("window_start", DateTime(timezone=True)),
    Column("window_end", DateTime(timezone=True)),
    Column("status", Text, nullable=False),
    Column("driver_id", BigInteger, ForeignKey("drivers.id")),
    Column("stop_index", Integer),
    Column("route", JSONB),  # as the client sent it (GeoJSON or polyline form)
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # When the order reached a final status; its tracking link expires some time after.
    Column("closed_at", DateTime(timezone=True)),
    Column("customer_time_zone", Text),  # IANA name, for quiet hours
    Column("delay_announced_until", DateTime(timezone=True)),  # end of the last "delayed" window
    Column("delivery_instructions", Text),  # the customer's, until out for delivery
    Column("pin_required", Boolean, nullable=False, server_default=false()),
    Column("locale", Text),  # BCP 47, as given: the customer's messages (0016)
    Column("email_opt_out", Boolean, nullable=False, server_default=false()),
    Column("sms_opt_out", Boolean, nullable=False, server_default=false()),
    Index("orders_status", "status"),
    Index("orders_driver", "driver_id", "stop_index"),
    # Customer-service search (trigram: substrings and exact matches; one per column, see
    # migration 0010), without GIN's pending list (migration 0021: it made the planner
    # serve lookups by tracking code from here, 2,000 times slower).
    *(
        Index(
            name,
            column,
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
            postgresql_with={"fastupdate": "off"},
        )
        for column, name in _SEARCHED.items()
    ),
)

order_events = Table(
    "order_events",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("order_id", BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("note", Text),
    # Courier actions (arrived/delivered/failed): the failure's reason code, where the
    # courier was (their newest fix, if recent), how far from the destination, and whether
    # that is beyond TRACKER_ACTION_FAR_M.
    Column("reason", Text),
    Column("position", point_type()),
    Column("distance_m", REAL),
    Column("far", Boolean, nullable=False, server_default="false"),
    Index("order_events_order", "order_id", "at"),
)

# A courier's actions by idempotency key: a resend is answered with the first answer
# (kept 24 h, and at most so many per driver: server/store/idempotency.py).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("driver_id", BigInteger, ForeignKey("drivers.id", ondelete="CASCADE"), nullable=False),
    Column("key", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("driver_id", "key", name="idempotency_keys_pkey"),
    Index("idempotency_keys_age", "driver_id", "created_at"),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", ARRAY(Text), nullable=False),
    Column("secret", Text, nullable=False),  # HMAC key; the receiver holds it too
    Column("position_interval_s", REAL, nullable=False, server_default="30"),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("disabled_reason", Text),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The transactional outbox: rows are written in the transaction that caused them; the
# notifier sends them at least once. `dedupe_key` (order, event, channel[, target]) makes
# each notification happen once however often its cause repeats.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("dedupe_key", Text, nullable=False, unique=True),
    Column("order_id", BigInteger, ForeignKey("orders.id", ondelete="CASCADE")),
    Column("event", Text, nullable=False),
    Column(
        "channel",
        Text,
        CheckConstraint("channel IN ('email', 'sms', 'webhook')"),
        nullable=False,
    ),
    Column("target", Text, nullable=False),
    Column(
        "subscription_id",
        BigInteger,
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
    ),
    Column("payload", JSONB, nullable=False),
    Column(
        "status",
        Text,
        CheckConstraint("status IN ('pending', 'sent', 'failed', 'cancelled', 'skipped')"),
        nullable=False,
        server_default="pending",
    ),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("claimed_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    Index("outbox_due", "next_attempt_at", postgresql_where="status = 'pending'"),
    Index("outbox_order", "order_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "subscription_id",
        BigInteger,
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("outbox_id", BigInteger, ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False),
    Column("event", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", REAL, nullable=False),
    Index("webhook_deliveries_subscription", "subscription_id", "id"),
)

# What `tracker learn-eta` (and the scheduled job) learned from the history; the newest
# row is what every process uses.
eta_models = Table(
    "eta_models",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("trips", Integer, nullable=False),
    Column("fixes", Integer, nullable=False),
    Column("profile", JSONB, nullable=False),
    Column("calibration", JSONB, nullable=False),
)

# This installation, one row made by migration 0016: `id` keeps Message-IDs apart from
# another database's; `secret` signs the unsubscribe links in customers' messages.
installation = Table(
    "installation",
    metadata,
    Column("singleton", Boolean, CheckConstraint("singleton"), primary_key=True,
           server_default=true()),
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("secret", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)  # fmt: skip
