"""The road network's register (issue 19). The networks themselves are tables named per
import (`roads_<profile>_<generation>_edges` / `_vertices`, server/store/roads.py): built
under new names, swapped in by updating this register in one transaction, so they are not
declared here."""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import Column, DateTime, Float, Integer, Table, Text

from server.store.schema import metadata

road_networks = Table(
    "road_networks",
    metadata,
    Column("profile", Text, primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("edges_table", Text, nullable=False),
    Column("vertices_table", Text, nullable=False),
    Column("source_file", Text, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("edge_count", Integer, nullable=False),
    Column("vertex_count", Integer, nullable=False),
    Column("length_km", Float(precision=53), nullable=False),
    Column("bbox", Geometry("POLYGON", srid=4326, spatial_index=False)),
)
