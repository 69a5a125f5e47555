"""Roads of its own (issue 19): the register of the road networks `tracker osm import` loads.

`road_networks` names, per profile, the tables holding the current network (built by each
import under new names and swapped in here in one transaction: server/store/roads.py).
pgRouting is created when the server offers it; without it the server still runs, with
provisional legs whose `route_note` says what to install.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """DO $$ BEGIN
             IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgrouting') THEN
               CREATE EXTENSION IF NOT EXISTS pgrouting;
             END IF;
           EXCEPTION WHEN insufficient_privilege THEN
             RAISE NOTICE 'pgrouting not created: %', SQLERRM;
           END $$"""
    )
    op.execute(
        """CREATE TABLE road_networks (
             profile text PRIMARY KEY,
             generation integer NOT NULL,
             edges_table text NOT NULL,
             vertices_table text NOT NULL,
             source_file text NOT NULL,
             imported_at timestamptz NOT NULL,
             edge_count integer NOT NULL,
             vertex_count integer NOT NULL,
             length_km double precision NOT NULL,
             bbox geometry(Polygon, 4326)
           )"""
    )


def downgrade() -> None:
    op.execute(
        """DO $$ DECLARE r record; BEGIN
             FOR r IN SELECT edges_table, vertices_table FROM road_networks LOOP
               EXECUTE format('DROP TABLE IF EXISTS %I, %I, %I', r.edges_table, r.vertices_table,
                              regexp_replace(r.edges_table, 'edges$', 'turns'));
             END LOOP;
           END $$"""
    )
    op.execute("DROP TABLE road_networks")
