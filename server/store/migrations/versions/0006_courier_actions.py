"""Courier actions: where each timeline entry happened, failure reasons, idempotency keys.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE order_events ADD COLUMN reason text")
    op.execute("ALTER TABLE order_events ADD COLUMN position geometry(POINT, 4326)")
    op.execute("ALTER TABLE order_events ADD COLUMN distance_m real")
    op.execute("ALTER TABLE order_events ADD COLUMN far boolean NOT NULL DEFAULT false")
    op.execute(
        """
        CREATE TABLE idempotency_keys (
            driver_id bigint NOT NULL REFERENCES drivers (id) ON DELETE CASCADE,
            key text NOT NULL,
            request_hash text NOT NULL,
            status_code integer NOT NULL,
            response bytea NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (driver_id, key)
        )"""
    )
    op.execute("CREATE INDEX idempotency_keys_age ON idempotency_keys (driver_id, created_at)")


def downgrade() -> None:
    op.execute("DROP TABLE idempotency_keys")
    op.execute("ALTER TABLE order_events DROP COLUMN far")
    op.execute("ALTER TABLE order_events DROP COLUMN distance_m")
    op.execute("ALTER TABLE order_events DROP COLUMN position")
    op.execute("ALTER TABLE order_events DROP COLUMN reason")
