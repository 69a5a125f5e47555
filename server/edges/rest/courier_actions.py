"""A courier's actions over REST: `POST /api/orders/{id}/status` with a driver token
(arrived, delivered, failed on their own run's orders; an `Idempotency-Key` header).
Dispatchers' keys on the same route go to orders.change_status (server/edges/guards.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from server.edges.guards import path_id
from server.edges.responses import decode_body, error_response, json_response
from server.edges.services import Services
from server.store.queries import Driver
from server.usecases import courier_actions
from server.wire.courier_actions import ActionIn
from server.wire.rest import TransitionRefused

MAX_BODY_BYTES = 4096
MAX_KEY_CHARS = 200


async def courier_status(request: Request, driver: Driver, services: Services) -> Response:
    key = request.headers.get("idempotency-key", "").strip()
    if not key:
        return error_response(400, "an Idempotency-Key header is required for a courier's action")
    if len(key) > MAX_KEY_CHARS or not key.isprintable():
        return error_response(400, f"Idempotency-Key: at most {MAX_KEY_CHARS} printable characters")
    order_id = path_id(request, "order_id")
    if isinstance(spec := await decode_body(request, ActionIn, MAX_BODY_BYTES, "body"), Response):
        return spec
    try:
        if order_id is None:  # as for any order not on the caller's run
            raise courier_actions.Refused(403, courier_actions.NOT_YOURS)
        action = courier_actions.check(order_id, spec.status, spec.reason, spec.note)
        done = await courier_actions.perform(services, driver, key, action, datetime.now(UTC))
    except courier_actions.Refused as exc:
        if exc.allowed is not None:
            return json_response(TransitionRefused(str(exc), exc.allowed), exc.code)
        return error_response(exc.code, str(exc))
    return json_response(done)
