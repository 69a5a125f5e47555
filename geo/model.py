"""Value types shared by the geo core and the server. Coordinates are (lon, lat)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Fix:
    """One GPS fix as the device recorded it, in canonical units (degrees, metres, m/s, UTC).

    `recorded_at` is the device's clock, timezone-aware UTC. Optional readings are None when
    the device did not report them.
    """

    recorded_at: datetime
    lon: float
    lat: float
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None
    altitude_m: float | None = None
    battery: float | None = None  # charge as a fraction, 0..1
