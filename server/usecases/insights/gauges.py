"""The insights' gauges in /metrics for the current operator-local day: on-time rate and
ETA MAE by horizon, read from the rollups every GAUGE_INTERVAL_S (a scrape never asks the
database). Every process measures the shared rollups alike."""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime

import asyncpg

from server.base.dbguard import bounded_connection
from server.base.metrics import Metrics
from server.base.settings import Settings
from server.domain.performance import HORIZON_NAMES
from server.store import insight_queries
from server.usecases.insights.figures import eta_figures
from server.usecases.insights.reports import Period, today

log = logging.getLogger("tracker.insights")

GAUGE_INTERVAL_S = 60.0
MEASURE_BUDGET_S = 2.0


async def measure_once(pool: asyncpg.Pool, settings: Settings, metrics: Metrics) -> None:
    day = today(settings.operator_time_zone, datetime.now(UTC))
    period = Period(day, day, settings.operator_time_zone)
    async with bounded_connection(pool, MEASURE_BUDGET_S) as conn:
        group = await insight_queries.today_groups(conn, period.from_at, period.to_at)
    promised = 0.0 if group is None else group.sums["with_promise"]
    on_time = 0.0 if group is None else group.sums["on_time_promise"]
    metrics.insights_on_time_rate.set(on_time / promised if promised else math.nan)
    eta = {} if group is None else eta_figures(group)
    for horizon in HORIZON_NAMES:
        mae = eta.get(horizon, {}).get("mae_s")
        metrics.insights_eta_mae.labels(horizon).set(math.nan if mae is None else mae)


async def measure_forever(pool: asyncpg.Pool, settings: Settings, metrics: Metrics) -> None:
    while True:
        try:
            await measure_once(pool, settings, metrics)
        except Exception as exc:  # the database away: the last figures stand
            log.debug("insights gauges not measured: %r", exc)
        await asyncio.sleep(GAUGE_INTERVAL_S)
