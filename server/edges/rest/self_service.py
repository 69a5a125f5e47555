"""The customer's self-service routes under the public view, `POST /api/track/{code}/…`:
instructions, issues, rating, reattempt. The tracking code is the credential; every call
is a tracking lookup first (rate-limited per client, expired links 404 as unknown ones),
then a body decoded strictly (server/wire/self_service.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from server.edges.responses import decode_body, error_response, json_response
from server.edges.rest.orders import UNKNOWN_CODE, tracked
from server.edges.services import Services
from server.store.orders import Order
from server.usecases import orders, self_service
from server.wire import self_service as wire

MAX_BODY_BYTES = 16 * 1024  # 1,000 characters, even as \u escapes, and room to spare
# Customer text goes back only as JSON (nosniff on every response: net/access.py), and no
# shared cache keeps what one customer wrote.
HEADERS = {"Cache-Control": "no-store"}

T = TypeVar("T")


async def _order_and_body(request: Request, kind: type[T]) -> tuple[Services, Order, T] | Response:
    """The tracked order and the decoded body, or the 404/413/422/429 to answer with."""
    services: Services = request.app.state.services
    if isinstance(order := await tracked(request, services), Response):
        return order
    if isinstance(spec := await decode_body(request, kind, MAX_BODY_BYTES, "body"), Response):
        return spec
    return services, order, spec


def _answer(content: object, status_code: int = 200) -> Response:
    return json_response(content, status_code, HEADERS)


def _wrong_state(exc: self_service.WrongState) -> Response:
    return json_response(wire.WrongState(str(exc), exc.status.value), 409, HEADERS)


async def instructions(request: Request) -> Response:
    if isinstance(found := await _order_and_body(request, wire.InstructionsIn), Response):
        return found
    services, order, spec = found
    try:
        after = await self_service.set_instructions(services, order, spec.text, _now())
    except self_service.WrongState as exc:
        return _wrong_state(exc)
    except orders.NoSuchOrder:
        return error_response(404, UNKNOWN_CODE)
    return _answer(wire.InstructionsView(after.delivery_instructions, after.status.value))


async def issues(request: Request) -> Response:
    if isinstance(found := await _order_and_body(request, wire.IssueIn), Response):
        return found
    services, order, spec = found
    try:
        issue = await self_service.report_issue(services, order, spec.reason, spec.text, _now())
    except self_service.Invalid as exc:
        return error_response(422, str(exc))
    except self_service.TooManyIssues as exc:
        return error_response(429, str(exc))
    return _answer(wire.IssueView(issue.id, issue.reason, issue.text, issue.at), 201)


async def rating(request: Request) -> Response:
    if isinstance(found := await _order_and_body(request, wire.RatingIn), Response):
        return found
    services, order, spec = found
    try:
        rated = await self_service.rate(services, order, spec.score, spec.comment, _now())
    except self_service.WrongState as exc:
        return _wrong_state(exc)
    return _answer(wire.RatingView(rated.score, rated.comment, rated.at))


async def reattempt(request: Request) -> Response:
    if isinstance(found := await _order_and_body(request, wire.ReattemptIn), Response):
        return found
    services, order, spec = found
    try:
        entry = await self_service.request_reattempt(services, order, spec.note, _now())
    except self_service.WrongState as exc:
        return _wrong_state(exc)
    except orders.NoSuchOrder:
        return error_response(404, UNKNOWN_CODE)
    return _answer(wire.ReattemptView(entry.status.value, entry.at, entry.note))


def _now() -> datetime:
    return datetime.now(UTC)
