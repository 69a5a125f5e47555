"""History exports (docs/api.md, "Exports"):

- `GET /api/drivers/{id}/track?from=&to=&format=geojson|gpx|csv`: a driver's stored fixes;
- `GET /api/orders/{id}/track?format=`: the fixes of one order's last delivery attempt;
- `GET /api/orders?format=csv&…`: the order list (server/edges/rest/orders.py) as CSV.

Fleet positions: dispatcher and admin keys only (`guarded("dispatcher")`, so a role
added below dispatcher in server/edges/guards.py, such as the planned `support`, which
never sees positions, is refused without a change here).

Everything the request can get wrong is answered before the stream starts (4xx with
`{"error": …}`); then the answer streams (server/edges/streams.py, for its bounds).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from server.domain.codes import display
from server.edges.guards import guarded, path_id
from server.edges.responses import error_response
from server.edges.rest.params import query_time
from server.edges.services import Caller, Services
from server.edges.streams import ExportResponse
from server.store import Conn, history, order_lists, queries
from server.store import orders as order_store
from server.usecases.order_views import is_late
from server.wire import exports

DEFAULT_RANGE = timedelta(hours=24)


def _format(request: Request) -> str:
    fmt = request.query_params.get("format") or "geojson"
    if fmt not in exports.FORMATS:
        raise ValueError(f"format must be one of {', '.join(exports.FORMATS)}")
    return fmt


def _track_response(
    services: Services, fmt: str, driver_id: int, from_at: datetime, to_at: datetime, name: str
) -> Response:
    encoder = exports.TrackEncoder(fmt, name)

    async def produce(conn: Conn) -> AsyncIterator[bytes]:
        yield encoder.head()
        async for lines in history.track_lines(conn, fmt, driver_id, from_at, to_at):
            yield encoder.lines(lines)
        yield encoder.tail()

    return ExportResponse(
        services.pool,
        produce,
        encoder.media_type,
        services.settings.export_timeout_s,
        f"{name}.{fmt}",
    )


@guarded("dispatcher")
async def driver_track(request: Request, caller: Caller, services: Services) -> Response:
    """Defaults: the 24 h up to now, GeoJSON. Both ends are inclusive."""
    now = datetime.now(UTC)
    max_range = timedelta(hours=services.settings.track_max_range_h)
    try:
        fmt = _format(request)
        to_at = query_time(request.query_params, "to") or now
        from_at = query_time(request.query_params, "from") or to_at - DEFAULT_RANGE
    except ValueError as exc:
        return error_response(422, str(exc))
    if from_at > to_at:
        return error_response(422, "from must not be after to")
    if to_at - from_at > max_range:
        return error_response(
            422,
            f"from..to spans over {services.settings.track_max_range_h:g} h "
            "(TRACKER_TRACK_MAX_RANGE_H): ask for shorter ranges",
        )
    driver_id = path_id(request, "driver_id")
    async with services.db() as conn:
        driver = None if driver_id is None else await queries.get_driver(conn, driver_id)
    if driver is None:
        return error_response(404, "no such driver")
    return _track_response(services, fmt, driver.id, from_at, to_at, f"driver-{driver.id}")


@guarded("dispatcher")
async def order_track(request: Request, caller: Caller, services: Services) -> Response:
    """The order's last delivery attempt: from its last `out_for_delivery` to the
    `delivered` or `failed` that ended it (still out: up to now), its driver's fixes."""
    try:
        fmt = _format(request)
    except ValueError as exc:
        return error_response(422, str(exc))
    order_id = path_id(request, "order_id")
    try:
        async with services.db() as conn:
            leg = None if order_id is None else await history.delivery_leg(conn, order_id)
    except history.NoLeg as exc:
        return error_response(409, str(exc))
    if leg is None:
        return error_response(404, "no such order")
    end_at = leg.end_at or datetime.now(UTC)
    return _track_response(
        services, fmt, leg.driver_id, leg.start_at, end_at, f"order-{order_id}-track"
    )


def orders_csv(services: Services, which: order_lists.OrderFilter) -> Response:
    """Every order `which` selects, oldest id first, ORDER_COLUMNS (docs/api.md); `late`
    and `eta` as the JSON list has them."""
    live = services.live

    def row(order: order_store.Order) -> tuple[object, ...]:
        eta = live.etas.eta(order.id)
        lon, lat = order.destination
        return (
            order.id, order.reference, display(order.tracking_code), order.status.value,
            order.customer_name, order.customer_email, order.customer_phone, order.address,
            lat, lon, order.promised_by, order.window_start, order.window_end,
            order.driver_id, order.stop_index, is_late(order, which.now, live),
            None if eta is None else eta.eta_at, order.created_at, order.updated_at,
            order.closed_at,
        )  # fmt: skip

    async def produce(conn: Conn) -> AsyncIterator[bytes]:
        yield exports.orders_csv_head()
        async for found in order_lists.export_orders(conn, which):
            yield exports.orders_csv(row(o) for o in found)

    return ExportResponse(
        services.pool,
        produce,
        exports.MEDIA_TYPES["csv"],
        services.settings.export_timeout_s,
        "orders.csv",
    )
