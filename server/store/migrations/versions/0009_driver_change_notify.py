"""A driver's credentials changing in any way notifies every server process.

A new token hash or device id, or the row deleted, sends `driver:<id>` on the revocation
channel (server/store/credentials.py) with the change's commit, whoever made it: the API's
rotation (which also notifies itself: PostgreSQL delivers one of two identical
notifications in a transaction), a future feature, or an operator's hand-written SQL.
Servers then forget the driver (usecases/driver_cache.py) and close its old sockets.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION drivers_notify_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('tracker_revocations', 'driver:' || OLD.id);
            RETURN NULL;
        END $$"""
    )
    op.execute(
        """
        CREATE TRIGGER drivers_credentials_changed AFTER UPDATE ON drivers FOR EACH ROW
        WHEN (OLD.token_hash IS DISTINCT FROM NEW.token_hash
              OR OLD.device_id IS DISTINCT FROM NEW.device_id OR OLD.id <> NEW.id)
        EXECUTE FUNCTION drivers_notify_changed()"""
    )
    op.execute(
        """
        CREATE TRIGGER drivers_deleted AFTER DELETE ON drivers FOR EACH ROW
        EXECUTE FUNCTION drivers_notify_changed()"""
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER drivers_deleted ON drivers")
    op.execute("DROP TRIGGER drivers_credentials_changed ON drivers")
    op.execute("DROP FUNCTION drivers_notify_changed()")
