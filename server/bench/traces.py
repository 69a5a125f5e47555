"""Recorded trips and known routes from CSV files (the shared data's formats).

A trace CSV has columns `t, lat, lon[, heading_deg]` (ISO 8601 UTC times); a routes CSV has
`trace_file, raw_id, wkt` with a lon/lat MULTILINESTRING per trip (shared/data/README.md).
"""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from pathlib import Path

import shapely

from geo.model import Fix
from geo.route import Route, RouteError


def read_trace(path: Path) -> list[Fix]:
    """A trace CSV (t, lat, lon[, heading_deg]) as fixes, in time order."""
    fixes = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            heading = row.get("heading_deg") or None
            fixes.append(
                Fix(
                    datetime.fromisoformat(row["t"].replace("Z", "+00:00")),
                    float(row["lon"]),
                    float(row["lat"]),
                    heading_deg=float(heading) if heading is not None else None,
                )
            )
    fixes.sort(key=lambda fix: fix.recorded_at)
    return fixes


def read_routes(path: Path) -> dict[str, Route]:
    """Known routes by trace file name; a MULTILINESTRING's parts are driven in order."""
    csv.field_size_limit(sys.maxsize)
    routes = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            geometry = shapely.from_wkt(row["wkt"])
            parts = getattr(geometry, "geoms", [geometry])
            coords: list[tuple[float, float]] = []
            for part in parts:
                for lon, lat in part.coords:
                    if not coords or coords[-1] != (lon, lat):
                        coords.append((float(lon), float(lat)))
            try:
                routes[row["trace_file"]] = Route(tuple(coords))
            except RouteError:
                continue
    return routes
