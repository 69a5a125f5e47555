"""`POST /api/drivers/{driver_id}/run/optimize`: a proposed stop order for the driver's run
(usecases/run_order.py). Dispatchers and admins; it reveals nothing a dispatcher cannot
already see of the fleet, and changes nothing."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.edges.guards import guarded, path_id
from server.edges.responses import decode_body, error_response, json_response
from server.edges.services import Caller, Services
from server.store import queries
from server.usecases import run_order

MAX_OPTIMIZE_BODY_BYTES = 1024
NO_SUCH_DRIVER = "no such driver"


class OptimizeIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """No options yet: an empty body or `{}`."""


@guarded("dispatcher")
async def optimize_run(request: Request, caller: Caller, services: Services) -> Response:
    driver_id = path_id(request, "driver_id")
    if driver_id is None:
        return error_response(404, NO_SUCH_DRIVER)
    if request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers:
        spec = await decode_body(request, OptimizeIn, MAX_OPTIMIZE_BODY_BYTES, "options")
        if isinstance(spec, Response):
            return spec
    async with services.db() as conn:
        if await queries.get_driver(conn, driver_id) is None:
            return error_response(404, NO_SUCH_DRIVER)
    if services.routing is None:
        return error_response(409, "routing is not running in this process")
    try:
        proposal = await run_order.propose(
            services.live, services.routing.router, driver_id, services.settings.optimize_max_stops
        )
    except run_order.RunTooLong as exc:
        return error_response(422, str(exc))
    except run_order.CannotOptimize as exc:
        return error_response(409, f"cannot order the run on the road network: {exc}")
    return json_response(proposal)
