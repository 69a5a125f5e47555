"""Messages in the customer's language and by their leave (issue 17): an order's `locale`
(BCP 47), the customer's opt-outs per channel, `skipped` outbox rows (an opted-out channel,
logged), and this installation's identity: a random id (Message-IDs unique across
databases) and a secret (signed unsubscribe links), made once here and kept.

Revision ID: 0016
Revises: 0011
"""

from __future__ import annotations

import secrets
import uuid

from alembic import op

revision = "0016"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE orders ADD COLUMN locale text")
    op.execute("ALTER TABLE orders ADD COLUMN email_opt_out boolean NOT NULL DEFAULT false")
    op.execute("ALTER TABLE orders ADD COLUMN sms_opt_out boolean NOT NULL DEFAULT false")
    op.execute("ALTER TABLE outbox DROP CONSTRAINT outbox_status_check")
    op.execute(
        "ALTER TABLE outbox ADD CONSTRAINT outbox_status_check "
        "CHECK (status IN ('pending', 'sent', 'failed', 'cancelled', 'skipped'))"
    )
    op.execute(
        """CREATE TABLE installation (
               singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
               id uuid NOT NULL,
               secret bytea NOT NULL,
               created_at timestamptz NOT NULL DEFAULT now())"""
    )
    # From the OS's CSPRNG, once: a restart reads them back, another database has others.
    op.execute(
        f"INSERT INTO installation (id, secret) "
        f"VALUES ('{uuid.uuid4()}', '\\x{secrets.token_hex(32)}'::bytea)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE installation")
    op.execute("UPDATE outbox SET status = 'cancelled' WHERE status = 'skipped'")
    op.execute("ALTER TABLE outbox DROP CONSTRAINT outbox_status_check")
    op.execute(
        "ALTER TABLE outbox ADD CONSTRAINT outbox_status_check "
        "CHECK (status IN ('pending', 'sent', 'failed', 'cancelled'))"
    )
    op.execute("ALTER TABLE orders DROP COLUMN sms_opt_out")
    op.execute("ALTER TABLE orders DROP COLUMN email_opt_out")
    op.execute("ALTER TABLE orders DROP COLUMN locale")
