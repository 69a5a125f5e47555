"""The slow bottleneck layer and the slow heat map (docs/api.md, "Bottlenecks"): the rollup's
travel in a range, weighed against each cell's usual pace. The usual comes from the learned
speed profile in use (the ETA models, server/usecases/learning.py) where the profile knows
the cell (geo/cell_paces.py says when), else from the rollup's own baseline; the sums are
geo/lost_time.py's.

The database answers the range's cell-hours as arrays (one row); weighing and ranking them
is numpy, on a worker thread when there are many, so the loop is not held; only the cells
kept get geometry. The profile's index of cells is built once per profile, on a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from geo import lost_time
from geo.cell_paces import CellPaces
from geo.lost_time import CellHours
from geo.speed_profile import SpeedProfile
from server.store import bottlenecks
from server.usecases.driver_cache import Db

# More cell-hours than this are weighed on a worker thread (~1 µs each with numpy, but a
# 92-day range of a big fleet has hundreds of thousands).
ON_LOOP_MAX_ROWS = 5_000

T = TypeVar("T")


class UsualPaces:
    """The index of the profile in use, rebuilt (off the loop) when the profile changes."""

    def __init__(self) -> None:
        self._profile: SpeedProfile | None = None
        self._paces: CellPaces | None = None

    async def of(self, profile: SpeedProfile | None, cell_m: float) -> CellPaces | None:
        """None without a profile, or with one on another grid (then every cell's usual
        comes from the rollup's history)."""
        if profile is None or profile.params.cell_m != cell_m:
            return None
        if profile is not self._profile or self._paces is None:
            paces = await asyncio.to_thread(CellPaces.from_profile, profile)
            self._profile, self._paces = profile, paces
            return paces
        return self._paces


@dataclass(frozen=True, slots=True)
class SlowQuery:
    from_at: datetime
    to_at: datetime
    baseline: timedelta  # the rollup's history for a cell the profile does not know
    min_steps: int  # a cell needs this much travel in the range to be in the layer
    slow_ratio: float


async def _weighed(rows: CellHours, work: Callable[[], T]) -> T:
    if len(rows) > ON_LOOP_MAX_ROWS:
        return await asyncio.to_thread(work)
    return work()


async def layer(
    db: Db, paces: CellPaces | None, query: SlowQuery, cell_m: float, limit: int
) -> list[bottlenecks.Cell]:
    """Up to `limit` slow cells, most seconds lost first, with their polygons."""
    async with db() as conn:
        rows = await bottlenecks.slow_rows(
            conn, query.from_at, query.to_at, query.baseline, query.min_steps,
            "UTC" if paces is not None else None,  # by hour only for the profile
        )  # fmt: skip
    figures = await _weighed(
        rows, lambda: lost_time.slow_cells(rows, paces, query.slow_ratio, limit)
    )
    if not figures:
        return []
    async with db() as conn:
        geometries = await bottlenecks.cell_geometries(
            conn, [(f["epsg"], f["ix"], f["iy"]) for f in figures], cell_m
        )
    return [bottlenecks.Cell(g, f) for g, f in zip(geometries, figures, strict=True)]


async def heat(
    db: Db, paces: CellPaces | None, query: SlowQuery, zone: str
) -> dict[int, tuple[float, int]]:
    """Hour of the week in `zone` -> (seconds lost, steps), over every cell with a usual."""
    async with db() as conn:
        rows = await bottlenecks.slow_rows(
            conn, query.from_at, query.to_at, query.baseline, 0, zone
        )
    return await _weighed(rows, lambda: lost_time.lost_by_hour(rows, paces))
