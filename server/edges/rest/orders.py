"""Dispatcher REST for orders (`/api/orders…`), the fleet snapshot, and the public
tracking lookup (`/api/track/{code}`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from geo.route import RouteError, parse_route
from server.domain import codes
from server.domain.lifecycle import IllegalTransition, parse_status
from server.edges.guards import client_address, guarded, path_id
from server.edges.responses import decode_body, error_response, json_response
from server.edges.rest import validation
from server.edges.rest.params import query_int
from server.edges.services import Caller, Services
from server.store import orders as store
from server.store import queries
from server.usecases.order_views import customer_view, dispatcher_view, is_late, link_expires_at
from server.wire.live import FleetView
from server.wire.orders import OrderPage
from server.wire.rest import TransitionRefused

MAX_BODY_BYTES = 1024 * 1024  # routes can be long
MAX_PAGE = 500
UNKNOWN_CODE = "unknown or expired tracking code"


def _now() -> datetime:
    return datetime.now(UTC)


T = TypeVar("T")


async def _decode(request: Request, kind: type[T]) -> T | Response:
    return await decode_body(request, kind, MAX_BODY_BYTES, "body")


@guarded("dispatcher")
async def create_order(request: Request, caller: Caller, services: Services) -> Response:
    if isinstance(spec := await _decode(request, validation.OrderIn), Response):
        return spec
    try:
        spec = validation.check_order(spec)
        if spec.customer.time_zone is not None:
            validation.check_time_zone(spec.customer.time_zone)
    except validation.Invalid as exc:
        return error_response(422, str(exc))
    now = _now()
    async with services.db() as conn:
        while True:  # a collision of 80 random bits will not happen; if it does, draw again
            new = store.NewOrder(
                reference=spec.reference,
                tracking_code=codes.new_code(),
                customer_name=spec.customer.name,
                customer_email=spec.customer.email,
                customer_phone=spec.customer.phone,
                destination=(spec.destination.lon, spec.destination.lat),
                address=spec.destination.address,
                promised_by=spec.promised_by,
                window_start=spec.window.start if spec.window else None,
                window_end=spec.window.end if spec.window else None,
                customer_time_zone=spec.customer.time_zone,
            )
            try:
                async with conn.transaction():  # the order, its timeline and its messages
                    order, entry = await store.create_order(conn, new, caller.actor, now)
                    await services.notifier.enqueue_status(conn, order, entry, None)
                break
            except store.DuplicateTrackingCode:
                continue
        timeline = await store.timeline(conn, order.id)
    services.notifier.wake()
    services.live.on_order_changed(None, order, entry)
    return json_response(
        dispatcher_view(order, services.settings, now, services.live, timeline), 201
    )


@guarded("dispatcher")
async def get_order(request: Request, caller: Caller, services: Services) -> Response:
    order_id = path_id(request, "order_id")
    async with services.db() as conn:
        order = None if order_id is None else await store.get_order(conn, order_id)
        if order is None:
            return error_response(404, "no such order")
        timeline = await store.timeline(conn, order.id)
    return json_response(dispatcher_view(order, services.settings, _now(), services.live, timeline))


@guarded("dispatcher")
async def list_orders(request: Request, caller: Caller, services: Services) -> Response:
    query = request.query_params
    try:
        statuses = (
            [parse_status(s).value for s in query["status"].split(",")]
            if query.get("status")
            else None
        )
        late = query.get("late", "").lower()
        if late not in ("", "true", "false", "1", "0"):
            raise ValueError("late must be true or false")
        driver_id = query_int(query, "driver_id", None, low=1)
        limit = min(query_int(query, "limit", 100, low=1), MAX_PAGE)
        after_id = query_int(query, "after", 0)
    except ValueError as exc:
        return error_response(422, str(exc))
    now = _now()
    async with services.db() as conn:
        found = await store.list_orders(
            conn,
            statuses=statuses,
            driver_id=driver_id,
            late_at=now if late in ("true", "1") else None,
            late_ids=sorted(services.live.late_orders(now)),
            limit=limit,
            after_id=after_id,
        )
    if late in ("false", "0"):
        found = [o for o in found if not is_late(o, now, services.live)]
    return json_response(
        OrderPage(
            [dispatcher_view(o, services.settings, now, services.live) for o in found],
            found[-1].id if len(found) == limit else None,
        )
    )


@guarded("dispatcher")
async def change_status(request: Request, caller: Caller, services: Services) -> Response:
    order_id = path_id(request, "order_id")
    if order_id is None:
        return error_response(404, "no such order")
    if isinstance(spec := await _decode(request, validation.StatusIn), Response):
        return spec
    try:
        wanted = parse_status(spec.status)
    except ValueError as exc:
        return error_response(422, str(exc))
    now = _now()
    async with services.db() as conn:
        try:
            async with conn.transaction():  # status, timeline entry and messages together
                changed = await store.change_status(
                    conn, order_id, wanted, caller.actor, spec.note, now
                )
                if changed is not None:
                    eta = services.live.etas.view(order_id)
                    await services.notifier.enqueue_status(conn, changed[1], changed[2], eta)
        except IllegalTransition as exc:
            return json_response(TransitionRefused(str(exc), exc.allowed), 409)
        if changed is None:
            return error_response(404, "no such order")
        before, after, entry = changed
        timeline = await store.timeline(conn, order_id)
    services.notifier.wake()
    services.live.on_order_changed(before, after, entry)
    return json_response(dispatcher_view(after, services.settings, now, services.live, timeline))


@guarded("dispatcher")
async def assign(request: Request, caller: Caller, services: Services) -> Response:
    order_id = path_id(request, "order_id")
    if order_id is None:
        return error_response(404, "no such order")
    if isinstance(spec := await _decode(request, validation.AssignIn), Response):
        return spec
    if spec.route is not None:
        try:
            parse_route(spec.route)
        except RouteError as exc:
            return error_response(422, f"route: {exc}")
    now = _now()
    async with services.db() as conn:
        driver = await queries.get_driver(conn, spec.driver_id)
        if driver is None:
            return error_response(422, f"no driver with id {spec.driver_id}")
        before = await store.get_order(conn, order_id)
        try:
            assigned = await store.assign(
                conn,
                order_id,
                driver.id,
                spec.route,
                spec.stop_index,
                now,
                services.settings.max_stops_per_run,
            )
        except store.NotAssignable as exc:
            return error_response(409, str(exc))
        except store.RunFull as exc:
            return error_response(422, str(exc))
        if before is None or assigned is None:
            return error_response(404, "no such order")
        after, shifted = assigned
    services.live.fleet.add_driver(driver.id, driver.name, driver.vehicle)
    # One change, with the stops the insertion moved down: each run is rebuilt once.
    services.live.on_order_changed(before, after, None, shifted)
    return json_response(dispatcher_view(after, services.settings, now, services.live))


@guarded("dispatcher")
async def fleet(request: Request, caller: Caller, services: Services) -> Response:
    return json_response(FleetView(services.live.fleet.snapshot(), _now()))


async def lookup_tracked(
    services: Services, client: str, raw_code: str
) -> tuple[store.Order | None, float]:
    """The order behind a tracking code if it may still be seen, and the client's wait.

    Unknown and expired codes look the same; every lookup spends the client's budget.
    """
    retry_after_s = services.track_limiter.retry_after_s(client)
    if retry_after_s > 0:
        return None, retry_after_s
    code = codes.normalise(raw_code)
    if code is None:
        return None, 0.0
    async with services.db() as conn:
        order = await store.order_by_code(conn, code)
    if order is None:
        return None, 0.0
    expires_at = link_expires_at(order, services.settings)
    if expires_at is not None and expires_at <= _now():
        return None, 0.0
    return order, 0.0


async def track(request: Request) -> Response:
    services: Services = request.app.state.services
    order, retry_after_s = await lookup_tracked(
        services, client_address(request), request.path_params["code"]
    )
    if retry_after_s > 0:
        return error_response(
            429,
            "too many tracking lookups; try again shortly",
            {"Retry-After": str(int(retry_after_s) + 1)},
        )
    if order is None:
        return error_response(404, UNKNOWN_CODE)
    async with services.db() as conn:
        timeline = await store.timeline(conn, order.id)
    return json_response(customer_view(order, timeline, services.live, services.settings))
