"""Tables of the delivery day beyond the live core: proof of delivery, PINs, dispatchers'
alerts and messages, what customers said on their link. Declared on the one `metadata`
(server/store/schema.py); server/store/tables.py gathers every schema module.
"""

from __future__ import annotations

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
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import BYTEA

from server.store.schema import metadata, point_type

# Proof of delivery: one current proof per order (a new upload replaces it), its images
# (re-encoded, metadata stripped) beside it; all removed with the order (ON DELETE CASCADE).
proofs = Table(
    "proofs",
    metadata,
    Column("order_id", BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("driver_id", BigInteger, ForeignKey("drivers.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("recipient_name", Text),
    Column("position", point_type()),  # the courier's newest fix, if recent; else NULL
    Column("position_at", DateTime(timezone=True)),
    Column("accuracy_m", REAL),
    Column("distance_m", REAL),  # from the position to the destination
    Column("pin_verified", Boolean, nullable=False, server_default="false"),
)

proof_images = Table(
    "proof_images",
    metadata,
    Column(
        "order_id", BigInteger, ForeignKey("proofs.order_id", ondelete="CASCADE"), nullable=False
    ),
    Column(
        "kind",
        Text,
        CheckConstraint("kind IN ('photo', 'thumb', 'signature')"),
        nullable=False,
    ),
    Column("media_type", Text, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("data", BYTEA, nullable=False),
    PrimaryKeyConstraint("order_id", "kind", name="proof_images_pkey"),
)

# Idempotency-Keys of proof uploads, per driver: a resend is answered with what is stored.
proof_keys = Table(
    "proof_keys",
    metadata,
    Column("driver_id", BigInteger, ForeignKey("drivers.id"), nullable=False),
    Column("key", Text, nullable=False),
    Column("order_id", BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("driver_id", "key", name="proof_keys_pkey"),
    Index("proof_keys_order", "order_id"),
)

# Delivery PINs, in clear: the out-for-delivery message must carry it (a 4-6 digit code's
# hash would fall to a brute force at once). Never shown by the API, never logged.
delivery_pins = Table(
    "delivery_pins",
    metadata,
    Column("order_id", BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("pin", Text, nullable=False),
    Column("wrong_tries", Integer, nullable=False, server_default="0"),
    Column("locked_at", DateTime(timezone=True)),
)

# Dispatchers' alerts (late, off route, offline, ...), kept until acknowledged and after.
# At most one open alert per (kind, driver, order): raising it again while open is a no-op.
alerts = Table(
    "alerts",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("kind", Text, nullable=False),
    Column("driver_id", BigInteger, ForeignKey("drivers.id")),
    Column("order_id", BigInteger, ForeignKey("orders.id", ondelete="CASCADE")),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("detail", Text),
    Column("acked_at", DateTime(timezone=True)),
    Column("acked_by", Text),
    Index(
        "alerts_open_once",
        "kind",
        "driver_id",
        "order_id",
        unique=True,
        postgresql_where="acked_at IS NULL",
        postgresql_nulls_not_distinct=True,
    ),
)

# Messages from dispatch to a courier; `delivered_at`: first written to a courier socket.
driver_messages = Table(
    "driver_messages",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("driver_id", BigInteger, ForeignKey("drivers.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("sent_by", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Index("driver_messages_driver", "driver_id", "at"),
)

# What customers said on their tracking link: problems reported (any number, capped per
# order by the use-case) and one rating per order (a new one replaces it).
order_issues = Table(
    "order_issues",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("order_id", BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("text", Text),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("order_issues_order", "order_id", "at"),
)

order_ratings = Table(
    "order_ratings",
    metadata,
    Column(
        "order_id",
        BigInteger,
        ForeignKey("orders.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("score", SmallInteger, CheckConstraint("score BETWEEN 1 AND 5"), nullable=False),
    Column("comment", Text),
    Column("at", DateTime(timezone=True), nullable=False),
)
