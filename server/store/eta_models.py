"""SQL for learning ETA models: the recent history as trips, and the learned models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geo.model import Fix
from server.store import Conn

# A pause longer than this ends a trip (a shift's break, a night).
TRIP_GAP_S = 300.0


async def history_trips(conn: Conn, since: datetime, max_rows: int) -> dict[str, list[Fix]]:
    """The history since `since` as trips: per driver, split wherever fixes pause."""
    rows = await conn.fetch(
        """SELECT driver_id, recorded_at, geom, accuracy_m, speed_mps, heading_deg
           FROM positions WHERE recorded_at >= $1
           ORDER BY driver_id, recorded_at LIMIT $2""",
        since,
        max_rows,
    )
    trips: dict[str, list[Fix]] = {}
    current: list[Fix] = []
    key = ""
    for row in rows:
        lon, lat = row["geom"]
        fix = Fix(
            row["recorded_at"], lon, lat, row["accuracy_m"], row["speed_mps"], row["heading_deg"]
        )
        starts = (
            not current
            or key.split(":", 1)[0] != str(row["driver_id"])
            or (fix.recorded_at - current[-1].recorded_at).total_seconds() > TRIP_GAP_S
        )
        if starts:
            key = f"{row['driver_id']}:{fix.recorded_at.isoformat()}"
            current = trips[key] = []
        current.append(fix)
    return trips


@dataclass(frozen=True, slots=True)
class StoredModels:
    id: int
    created_at: datetime
    trips: int
    fixes: int
    profile: dict[str, Any]
    calibration: dict[str, Any]


async def save(
    conn: Conn, trips: int, fixes: int, profile: dict[str, Any], calibration: dict[str, Any]
) -> int:
    model_id = await conn.fetchval(
        """INSERT INTO eta_models (trips, fixes, profile, calibration)
           VALUES ($1, $2, $3, $4) RETURNING id""",
        trips,
        fixes,
        profile,
        calibration,
    )
    return int(model_id)


async def latest_id(conn: Conn) -> int | None:
    """The newest stored models' id: each process asks this every reload interval, and
    reads the models themselves (megabytes of JSON) only when they are new to it."""
    value = await conn.fetchval("SELECT max(id) FROM eta_models")
    return None if value is None else int(value)


async def latest(conn: Conn) -> StoredModels | None:
    row = await conn.fetchrow(
        """SELECT id, created_at, trips, fixes, profile, calibration
           FROM eta_models ORDER BY id DESC LIMIT 1"""
    )
    return None if row is None else StoredModels(**dict(row))
