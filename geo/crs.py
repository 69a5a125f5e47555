"""Metric frames: cached pyproj Transformers (always_xy, so (lon, lat) in, (x, y) metres out).

A route gets an azimuthal equidistant frame centred on it: distances from the centre are
exact and other distances are within ~0.1 % over a city-sized extent (50 km). The fleet's
speed profile needs one grid shared by every route, so it uses UTM zones instead.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from pyproj.enums import TransformDirection

FloatArray = npt.NDArray[np.float64]

# Frames are shared by routes whose centres round to the same 0.25 degree (~25 km): the
# scale error 25 km from an azimuthal equidistant centre is ~1e-6, while building the two
# Transformers costs ~15 ms, far too much to pay for each new run on the fix path.
_CENTRE_STEP_DEG = 0.25
_FORWARD = TransformDirection.FORWARD


class LocalFrame:
    """Azimuthal equidistant projection around (lon0, lat0).

    >>> frame = LocalFrame(11.9, 50.3)
    >>> x, y = frame.to_xy(11.9, 50.3 + 1 / 60)
    >>> round(x, 3), round(y)
    (0.0, 1854)
    >>> [round(v, 6) for v in frame.to_lonlat(x, y)]
    [11.9, 50.316667]
    """

    __slots__ = ("_forward", "_inverse", "lat0", "lon0")

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0 = lon0
        self.lat0 = lat0
        crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m")
        self._forward = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        self._inverse = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def to_xy(self, lon: float, lat: float) -> tuple[float, float]:
        # Every fix comes here: pyproj's scalar path (what `transform` tries first, on the
        # calling thread's own transformer), without that wrapper's keywords and `try`.
        point: Any = self._forward._transformer._transform_point
        if type(lon) is float and type(lat) is float:
            xy: tuple[float, float] = point(lon, lat, None, None, _FORWARD, False, False)
            return xy
        x, y = self._forward.transform(lon, lat)  # ints, numpy scalars
        return float(x), float(y)

    def to_xy_many(
        self, lons: Sequence[float] | FloatArray, lats: Sequence[float] | FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        x, y = self._forward.transform(np.asarray(lons, float), np.asarray(lats, float))
        return np.asarray(x, float), np.asarray(y, float)

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self._inverse.transform(x, y)
        return float(lon), float(lat)

    def to_lonlat_many(
        self, xs: Sequence[float] | FloatArray, ys: Sequence[float] | FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        lon, lat = self._inverse.transform(np.asarray(xs, float), np.asarray(ys, float))
        return np.asarray(lon, float), np.asarray(lat, float)


def local_frame(lon: float, lat: float) -> LocalFrame:
    """The cached frame for a route centred near (lon, lat)."""
    return _frame(round(lon / _CENTRE_STEP_DEG), round(lat / _CENTRE_STEP_DEG))


@functools.lru_cache(maxsize=256)
def _frame(lon_steps: int, lat_steps: int) -> LocalFrame:
    return LocalFrame(lon_steps * _CENTRE_STEP_DEG, lat_steps * _CENTRE_STEP_DEG)


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone holding (lon, lat) (ignoring the Norway exceptions).

    >>> utm_epsg(11.9, 50.3), utm_epsg(-2.9, 53.4), utm_epsg(151.2, -33.9)
    (32632, 32630, 32756)
    """
    zone = min(60, math.floor((lon + 180.0) / 6.0) + 1)
    return (32600 if lat >= 0 else 32700) + zone


@functools.lru_cache(maxsize=64)
def utm_transformer(epsg: int) -> Transformer:
    return Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)


def to_utm_many(
    epsg: int, lons: Sequence[float] | FloatArray, lats: Sequence[float] | FloatArray
) -> tuple[FloatArray, FloatArray]:
    x, y = utm_transformer(epsg).transform(np.asarray(lons, float), np.asarray(lats, float))
    return np.asarray(x, float), np.asarray(y, float)
