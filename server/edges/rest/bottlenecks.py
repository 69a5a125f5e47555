"""Bottlenecks (docs/api.md, "Bottlenecks"): where and when time is lost.

- `GET /api/insights/bottlenecks?from=&to=&layer=slow|dwell|late`: a GeoJSON layer;
- `GET /api/insights/heatmap?from=&to=&metric=slow|dwell|late`: hour-of-week matrix in
  TRACKER_OPERATOR_TIME_ZONE.

Dispatchers and admins only: the layers are made of fleet positions (support keys: 403).
Both read the rollup (server/usecases/insight_rollup.py) and order outcomes, never the
position history; `slow` weighs it against the learned speed profile in use
(server/usecases/slow_cells.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from geo.cell_paces import CellPaces
from server.edges.guards import guarded
from server.edges.responses import error_response, json_response
from server.edges.rest.params import check_known, query_time
from server.edges.services import Caller, Services
from server.store import bottlenecks, insight_rollup
from server.usecases import slow_cells
from server.usecases.insight_rollup import CELL_M
from server.wire import bottlenecks as wire

DEFAULT_RANGE = timedelta(days=7)


def _range(request: Request, services: Services, choice: str) -> tuple[datetime, datetime]:
    """`from`..`to` (default: the 7 days up to now); raises ValueError naming the fault,
    an unknown parameter too (a misspelt one must not quietly answer something else)."""
    check_known(request.query_params, frozenset({"from", "to", choice}))
    to_at = query_time(request.query_params, "to") or datetime.now(UTC)
    try:
        from_at = query_time(request.query_params, "from") or to_at - DEFAULT_RANGE
    except OverflowError:  # `to` in year 1, no `from`
        raise ValueError("to is too early: give a from, or a later to") from None
    if from_at > to_at:
        raise ValueError("from must not be after to")
    max_days = services.settings.bottleneck_max_range_days
    if to_at - from_at > timedelta(days=max_days):
        raise ValueError(
            f"from..to spans over {max_days} days (TRACKER_BOTTLENECK_MAX_RANGE_DAYS): "
            "ask for shorter ranges"
        )
    return from_at, to_at


def _choice(request: Request, name: str, default: str) -> str:
    value = request.query_params.get(name) or default
    if value not in wire.LAYERS:
        raise ValueError(f"{name} must be one of {', '.join(wire.LAYERS)}")
    return value


@guarded("dispatcher")
async def layer(request: Request, caller: Caller, services: Services) -> Response:
    settings = services.settings
    try:
        from_at, to_at = _range(request, services, "layer")
        name = _choice(request, "layer", "slow")
    except ValueError as exc:
        return error_response(422, str(exc))
    limit = settings.bottleneck_max_features
    if name == "slow":  # weighed in Python between two short reads
        query, paces = await _slow(services, from_at, to_at)
        cells = await slow_cells.layer(services.db, paces, query, CELL_M, limit + 1)
    async with services.db() as conn:
        if name != "slow":
            cells = await bottlenecks.layer(conn, name, from_at, to_at, CELL_M, limit + 1)
        rolled = await insight_rollup.watermark(conn)
    features = [
        wire.Feature(msgspec.Raw(cell.geometry.encode()), _rounded(cell.figures))
        for cell in cells[:limit]
    ]
    return json_response(
        wire.Layer(
            layer=name,
            from_at=from_at,
            to_at=to_at,
            time_zone=settings.operator_time_zone,
            cell_m=CELL_M,
            rule=wire.RULES[name],
            max_features=limit,
            truncated=len(cells) > limit,
            rolled_up_to=rolled,
            features=features,
        )
    )


async def _slow(
    services: Services, from_at: datetime, to_at: datetime
) -> tuple[slow_cells.SlowQuery, CellPaces | None]:
    """The slow layer's question, and the learned profile's cells to weigh it with."""
    settings = services.settings
    query = slow_cells.SlowQuery(
        from_at,
        to_at,
        timedelta(days=settings.bottleneck_baseline_days),
        settings.bottleneck_min_steps,
        settings.bottleneck_slow_ratio,
    )
    paces = await services.usual_paces.of(services.live.etas.models.profile, CELL_M)
    return query, paces


def _rounded(figures: dict[str, object]) -> dict[str, float | int | str | None]:
    out: dict[str, float | int | str | None] = {}
    for key, value in figures.items():
        if isinstance(value, float):
            out[key] = round(value, 2)
        elif isinstance(value, int | str) or value is None:
            out[key] = value
        else:
            out[key] = float(value)  # type: ignore[arg-type]
    return out


@guarded("dispatcher")
async def heatmap(request: Request, caller: Caller, services: Services) -> Response:
    settings = services.settings
    try:
        from_at, to_at = _range(request, services, "metric")
        metric = _choice(request, "metric", "late")
    except ValueError as exc:
        return error_response(422, str(exc))
    zone = settings.operator_time_zone
    if metric == "slow":
        query, paces = await _slow(services, from_at, to_at)
        by_hour = await slow_cells.heat(services.db, paces, query, zone)
    async with services.db() as conn:
        if metric != "slow":
            by_hour = await bottlenecks.heat(conn, metric, from_at, to_at, zone)
        rolled = await insight_rollup.watermark(conn)
    values, counts = wire.matrix(by_hour)
    return json_response(
        wire.HeatMap(
            metric=metric,
            from_at=from_at,
            to_at=to_at,
            time_zone=zone,
            unit=wire.HEAT_UNITS[metric],
            days=list(wire.DAYS),
            values=values,
            counts=counts,
            rolled_up_to=None if metric == "late" else rolled,
        )
    )
