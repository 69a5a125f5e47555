"""The bottleneck rollup job (docs/api.md, "Bottlenecks"): brings `insight_cells` and
`insight_dwells` up to `insight_rollup_lag_s` behind the clock, one slice of at most
`insight_rollup_slice_s` of history per transaction (server/store/insight_rollup.py says
what a slice computes). Once per cluster (the scheduled-jobs leader); a slice moved on by
another process meanwhile is skipped, never counted twice.

The first round starts at the oldest day partition of the history (or `retention_days`
back, if that is later); empty slices cost a partition-pruned look-up each.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import asyncpg

from geo.speed_profile import LearnParams
from server.base.metrics import Metrics
from server.base.settings import Settings
from server.store import Conn, insight_rollup, partitions
from server.usecases.leader import Leadership

log = logging.getLogger("tracker.insights")

CELL_M = LearnParams().cell_m  # the speed profile's fine grid: the same cells
MAX_GAP_S = 300.0  # fixes further apart are lost signal, not a step
STOP_SPEED_MPS = 1.0
LOOKBACK_S = 3_600.0  # a stop longer than this counts as its last hour
SLICE_TIMEOUT_S = 600.0  # one slice's statement (a catch-up's hour of a busy fleet)


def params(settings: Settings) -> insight_rollup.RollupParams:
    return insight_rollup.RollupParams(
        cell_m=CELL_M,
        max_gap_s=MAX_GAP_S,
        stop_speed_mps=STOP_SPEED_MPS,
        dwell_min_s=settings.bottleneck_dwell_min_s,
        lookback_s=LOOKBACK_S,
    )


async def roll_up(
    pool: asyncpg.Pool, settings: Settings, until: datetime | None = None
) -> list[insight_rollup.SliceResult]:
    """Roll the history up to `until` (default: now less the lag), slice by slice."""
    until = until or datetime.now(UTC) - timedelta(seconds=settings.insight_rollup_lag_s)
    slice_len = timedelta(seconds=settings.insight_rollup_slice_s)
    done: list[insight_rollup.SliceResult] = []
    async with pool.acquire() as conn:
        start = await insight_rollup.watermark(conn)
        if start is None:
            start = await _first_start(conn, until, settings.retention_days)
    while start < until:
        end = min(start + slice_len, until)
        async with pool.acquire() as conn:  # one slice at a time: requests get their turn
            result = await insight_rollup.roll_slice(
                conn, start, end, params(settings), SLICE_TIMEOUT_S
            )
        if result is None:  # another process rolled meanwhile
            break
        done.append(result)
        start = end
    async with pool.acquire() as conn:
        # Kept as long as the history it summarises (partitions past retention are dropped).
        await insight_rollup.forget_before(conn, until - timedelta(days=settings.retention_days))
    return done


async def _first_start(conn: Conn, until: datetime, retention_days: int) -> datetime:
    oldest_kept = until - timedelta(days=retention_days)
    days = await partitions.existing_days(conn)
    if not days:
        return until
    first_day = datetime.combine(min(days), datetime.min.time(), UTC)
    return max(first_day, oldest_kept) - timedelta(microseconds=1)


async def run_forever(
    pool: asyncpg.Pool, settings: Settings, leader: Leadership, metrics: Metrics
) -> None:
    while True:
        try:
            if await leader.holds():
                slices = await roll_up(pool, settings)
                if any(s.dwells or s.cells for s in slices):
                    log.info(
                        "insight rollup: %d slices, %d cell-hours, %d dwells, up to %s",
                        len(slices),
                        sum(s.cells for s in slices),
                        sum(s.dwells for s in slices),
                        slices[-1].end_at.isoformat(),
                    )
            async with pool.acquire() as conn:  # every process says how far behind it is
                at = await insight_rollup.watermark(conn)
            if at is not None:
                metrics.insight_rollup_behind.set((datetime.now(UTC) - at).total_seconds())
        except Exception as exc:  # tried again next round, from the watermark
            log.warning("insight rollup failed: %r", exc)
        await asyncio.sleep(settings.insight_rollup_interval_s)
