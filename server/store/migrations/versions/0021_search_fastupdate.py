"""The trigram search indexes on orders (0010) without GIN's pending list.

With `fastupdate` on (GIN's default), new entries wait in a pending list that every search
reads through, and until the table's first vacuum the planner costs the index as nearly
free. The customers' batched lookups by tracking code (`tracking_code = ANY(...)`,
server/store/order_reads.py) were then served from orders_search_code instead of the
unique index: 7.1 s for 1,000 codes against 3.7 ms at 7,500 orders COPYed in (measured;
a customers' reconnect storm after a restart or a bulk import is such a batch). Without
the pending list the planner sees the index as it is and takes the unique index, and an
insert updates five small GIN entries directly (orders come at human rates). What is
pending now is merged here.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

INDEXES = (
    "orders_search_reference",
    "orders_search_code",
    "orders_search_name",
    "orders_search_email",
    "orders_search_phone",
)


def upgrade() -> None:
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} SET (fastupdate = off)")
        op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")


def downgrade() -> None:
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} RESET (fastupdate)")
