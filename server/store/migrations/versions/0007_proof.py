"""Proof of delivery (photo, signature, recipient, where and when) and delivery PINs, all
removed with their order.

Revision ID: 0007
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE proofs (
            order_id bigint PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
            driver_id bigint NOT NULL REFERENCES drivers (id),
            at timestamptz NOT NULL,
            recipient_name text,
            position geometry(Point, 4326),
            position_at timestamptz,
            accuracy_m real,
            distance_m real,
            pin_verified boolean NOT NULL DEFAULT false
        )"""
    )
    op.execute(
        """
        CREATE TABLE proof_images (
            order_id bigint NOT NULL REFERENCES proofs (order_id) ON DELETE CASCADE,
            kind text NOT NULL CHECK (kind IN ('photo', 'thumb', 'signature')),
            media_type text NOT NULL,
            width integer NOT NULL,
            height integer NOT NULL,
            data bytea NOT NULL,
            CONSTRAINT proof_images_pkey PRIMARY KEY (order_id, kind)
        )"""
    )
    op.execute(
        """
        CREATE TABLE proof_keys (
            driver_id bigint NOT NULL REFERENCES drivers (id),
            key text NOT NULL,
            order_id bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
            at timestamptz NOT NULL,
            CONSTRAINT proof_keys_pkey PRIMARY KEY (driver_id, key)
        )"""
    )
    op.execute("CREATE INDEX proof_keys_order ON proof_keys (order_id)")
    op.execute(
        """
        CREATE TABLE delivery_pins (
            order_id bigint PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
            pin text NOT NULL,
            wrong_tries integer NOT NULL DEFAULT 0,
            locked_at timestamptz
        )"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE delivery_pins, proof_keys, proof_images, proofs")
