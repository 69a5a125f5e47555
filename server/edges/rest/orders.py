"""Dispatcher REST for orders (`/api/orders…`), the fleet snapshot, and the public
tracking lookup (`/api/track/{code}`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from geo.route import RouteError, parse_route
from server.domain.lifecycle import IllegalTransition, parse_status
from server.domain.search import Search, search_of
from server.edges.guards import client_address, guarded, guarded_or_driver, path_id
from server.edges.responses import decode_body, error_response, json_response
from server.edges.rest import exports, validation
from server.edges.rest.courier_actions import courier_status
from server.edges.rest.params import check_known, query_int, query_text, query_time
from server.edges.services import Caller, Services
from server.store import order_lists
from server.store import orders as store
from server.usecases import orders, proof, self_service
from server.usecases.order_views import customer_view, dispatcher_view
from server.usecases.tracking import lookup_tracked
from server.wire.live import FleetView
from server.wire.orders import OrderPage
from server.wire.rest import TransitionRefused

MAX_BODY_BYTES = 1024 * 1024  # routes can be long
MAX_PAGE = 500
UNKNOWN_CODE = "unknown or expired tracking code"
NO_SUCH_ORDER = "no such order"


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
    new = store.NewOrder(
        reference=spec.reference,
        tracking_code="",  # drawn by the use-case
        customer_name=spec.customer.name,
        customer_email=spec.customer.email,
        customer_phone=spec.customer.phone,
        destination=(spec.destination.lon, spec.destination.lat),
        address=spec.destination.address,
        promised_by=spec.promised_by,
        window_start=spec.window.start if spec.window else None,
        window_end=spec.window.end if spec.window else None,
        customer_time_zone=spec.customer.time_zone,
        locale=spec.locale,
    )
    now = _now()
    order, timeline = await orders.create(
        services, new, caller.actor, now, delivery_pin=spec.delivery_pin
    )
    return json_response(
        dispatcher_view(order, services.settings, now, services.live, timeline), 201
    )


@guarded("support")
async def get_order(request: Request, caller: Caller, services: Services) -> Response:
    order_id = path_id(request, "order_id")
    if order_id is None:
        return error_response(404, NO_SUCH_ORDER)
    try:
        order, timeline = await orders.get(services, order_id)
    except orders.NoSuchOrder:
        return error_response(404, NO_SUCH_ORDER)
    feedback = await self_service.feedback(services, order_id)
    view = dispatcher_view(
        order, services.settings, _now(), services.live, timeline, feedback,
        positions=caller.role != "support",
    )  # fmt: skip
    return json_response(view)


LIST_PARAMS = frozenset(
    {"status", "late", "driver_id", "limit", "after", "from", "to", "format", "q", "reference",
     "email", "phone"}
)  # fmt: skip


def _customer_service(query: QueryParams) -> tuple[Search | None, order_lists.Exact]:
    """`q=` and the exact filters (docs/api.md "Customer service"); raises ValueError."""
    q = query_text(query, "q")
    phone = query_text(query, "phone")
    exact = order_lists.Exact(
        query_text(query, "reference"),
        query_text(query, "email", 320),
        None if phone is None else validation.compact_phone(phone),
    )
    return (None if q is None else search_of(q)), exact


@guarded("support")
async def list_orders(request: Request, caller: Caller, services: Services) -> Response:
    """A page of orders (JSON), or with `format=csv` all of them, streamed (exports.py)."""
    query = request.query_params
    try:
        check_known(query, LIST_PARAMS)
        search, exact = _customer_service(query)
        statuses = (
            [parse_status(s) for s in query["status"].split(",")] if query.get("status") else None
        )
        late = query.get("late", "").lower()
        if late not in ("", "true", "false", "1", "0"):
            raise ValueError("late must be true or false")
        driver_id = query_int(query, "driver_id", None, low=1)
        limit = min(query_int(query, "limit", 100, low=1), MAX_PAGE)
        after_id = query_int(query, "after", 0)
        created_from, created_to = query_time(query, "from"), query_time(query, "to")
        fmt = query.get("format") or "json"
        if fmt not in ("json", "csv"):
            raise ValueError("format must be json or csv")
    except ValueError as exc:
        return error_response(422, str(exc))
    if created_from and created_to and created_from > created_to:
        return error_response(422, "from must not be after to")
    if fmt == "csv" and caller.role == "support":
        return error_response(
            403, "this key may not do that (CSV exports need the dispatcher role)"
        )
    now = _now()
    late_filter = None if late == "" else late in ("true", "1")
    if fmt == "csv":
        which = order_lists.OrderFilter(
            None if statuses is None else [s.value for s in statuses],
            driver_id,
            late_filter,
            now,
            orders.etas_for_lateness(services.live, late_filter),
            created_from,
            created_to,
            search,
            exact,
        )
        return exports.orders_csv(services, which)
    found = await orders.find(
        services,
        statuses=statuses,
        driver_id=driver_id,
        late=late_filter,
        now=now,
        limit=limit,
        after_id=after_id,
        created_from=created_from,
        created_to=created_to,
        search=search,
        exact=exact,
    )
    positions = caller.role != "support"
    return json_response(
        OrderPage(
            [
                dispatcher_view(o, services.settings, now, services.live, positions=positions)
                for o in found
            ],
            found[-1].id if len(found) == limit else None,
        )
    )


@guarded_or_driver("dispatcher", courier_status)  # a courier: their own orders, some statuses
async def change_status(request: Request, caller: Caller, services: Services) -> Response:
    order_id = path_id(request, "order_id")
    if order_id is None:
        return error_response(404, NO_SUCH_ORDER)
    if isinstance(spec := await _decode(request, validation.StatusIn), Response):
        return spec
    try:
        wanted = parse_status(spec.status)
    except ValueError as exc:
        return error_response(422, str(exc))
    now = _now()
    try:
        after, timeline = await orders.change_status(
            services, order_id, wanted, caller.actor, spec.note, now
        )
    except IllegalTransition as exc:
        return json_response(TransitionRefused(str(exc), exc.allowed), 409)
    except orders.NoSuchOrder:
        return error_response(404, NO_SUCH_ORDER)
    return json_response(dispatcher_view(after, services.settings, now, services.live, timeline))


@guarded("dispatcher")
async def assign(request: Request, caller: Caller, services: Services) -> Response:
    order_id = path_id(request, "order_id")
    if order_id is None:
        return error_response(404, NO_SUCH_ORDER)
    if isinstance(spec := await _decode(request, validation.AssignIn), Response):
        return spec
    if spec.route is not None:
        try:
            parse_route(spec.route)
        except RouteError as exc:
            return error_response(422, f"route: {exc}")
    now = _now()
    try:
        after = await orders.assign(
            services, order_id, spec.driver_id, spec.route, spec.stop_index, now
        )
    except (orders.NoSuchDriver, store.RunFull) as exc:
        return error_response(422, str(exc))
    except store.NotAssignable as exc:
        return error_response(409, str(exc))
    except orders.NoSuchOrder:
        return error_response(404, NO_SUCH_ORDER)
    return json_response(dispatcher_view(after, services.settings, now, services.live))


@guarded("dispatcher")
async def fleet(request: Request, caller: Caller, services: Services) -> Response:
    return json_response(FleetView(services.live.fleet.snapshot(), _now()))


async def tracked(request: Request, services: Services) -> store.Order | Response:
    """The order behind the path's tracking code, or the 429/404 to answer with: every
    route under `/api/track/{code}` looks it up this way (rate-limited per client)."""
    order, retry_after_s = await lookup_tracked(
        services, client_address(request), request.path_params["code"]
    )
    if retry_after_s > 0:
        return error_response(
            429,
            "too many tracking lookups; try again shortly",
            {"Retry-After": str(int(retry_after_s) + 1)},
        )
    return error_response(404, UNKNOWN_CODE) if order is None else order


async def track(request: Request) -> Response:
    services: Services = request.app.state.services
    if isinstance(order := await tracked(request, services), Response):
        return order
    found = await services.tracked.order(order.id)
    if found is None:  # deleted since the lookup
        return error_response(404, UNKNOWN_CODE)
    settings = services.settings
    photo_url = proof.customer_photo_url(found.order, found.has_photo, settings)
    return json_response(
        customer_view(found.order, found.timeline, services.live, settings, photo_url)
    )
