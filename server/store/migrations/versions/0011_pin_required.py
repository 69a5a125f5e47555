"""Orders say whether a delivery PIN was drawn for them (`pin_required`), so the courier's
run can ask for the PIN only where one exists, without a look-up per stop.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE orders ADD COLUMN pin_required boolean NOT NULL DEFAULT false")
    op.execute(
        "UPDATE orders SET pin_required = true WHERE id IN (SELECT order_id FROM delivery_pins)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE orders DROP COLUMN pin_required")
