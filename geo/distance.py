"""Great-circle distance, for plausibility checks between two fixes.

Route geometry uses a projected metric CRS instead; this is for the one-off question
"how far apart are these two fixes", where a sphere is accurate to ~0.5 %.
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Distance in metres between two (lon, lat) points in degrees.

    >>> round(haversine_m(0.0, 0.0, 0.0, 1.0))
    111195
    >>> haversine_m(7.4, 43.7, 7.4, 43.7)
    0.0
    """
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))
