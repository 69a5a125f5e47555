"""`/api/alerts` (dispatchers' stored alerts: list, acknowledge) and
`POST /api/drivers/{id}/messages` (a message to a courier).

Fleet data: dispatcher or admin keys only. Acknowledging twice keeps the first (who and
when) and answers the same; every dispatcher hears the first on `WS /ws/fleet`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.edges.guards import guarded, path_id
from server.edges.responses import decode_body, error_response, json_response
from server.edges.rest.params import query_int
from server.edges.services import Caller, Services
from server.store import alerts as store
from server.usecases import messages
from server.wire.alerts import AlertPage, alert_view, message_view

MAX_PAGE = 500
MAX_MESSAGE_BODY_BYTES = 16 * 1024
NO_SUCH_ALERT = "no such alert"


class MessageIn(msgspec.Struct, frozen=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


@guarded("dispatcher")
async def list_alerts(request: Request, caller: Caller, services: Services) -> Response:
    query = request.query_params
    try:
        open_only = query.get("open", "").lower()
        if open_only not in ("", "true", "false", "1", "0"):
            raise ValueError("open must be true or false")
        limit = min(query_int(query, "limit", 100, low=1), MAX_PAGE)
        after_id = query_int(query, "after", 0)
    except ValueError as exc:
        return error_response(422, str(exc))
    async with services.db() as conn:
        found = await store.list_alerts(conn, open_only in ("true", "1"), limit, after_id)
    next_after = found[-1].id if len(found) == limit else None
    return json_response(AlertPage([alert_view(a) for a in found], next_after))


@guarded("dispatcher")
async def ack_alert(request: Request, caller: Caller, services: Services) -> Response:
    alert_id = path_id(request, "alert_id")
    alert = None
    if alert_id is not None:
        alert = await services.alerts.ack(alert_id, caller.actor, datetime.now(UTC))
    if alert is None:
        return error_response(404, NO_SUCH_ALERT)
    return json_response(alert_view(alert))


@guarded("dispatcher")
async def send_message(request: Request, caller: Caller, services: Services) -> Response:
    driver_id = path_id(request, "driver_id")
    if driver_id is None:
        return error_response(404, "no such driver")
    spec = await decode_body(request, MessageIn, MAX_MESSAGE_BODY_BYTES, "message")
    if isinstance(spec, Response):
        return spec
    if not spec.text.strip():
        return error_response(422, "invalid message: text is blank")
    sent = await messages.send(services, driver_id, spec.text, caller.actor, datetime.now(UTC))
    if sent is None:
        return error_response(404, "no such driver")
    return json_response(message_view(sent), 201)
