"""API keys can be revoked: `revoked_at` set, the row kept (timelines name the key).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE api_keys ADD COLUMN revoked_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE api_keys DROP COLUMN revoked_at")
