"""The customer's self-service routes under the public view, `POST /api/track/{code}/…`:
instructions, issues, rating, reattempt. The tracking code is the credential; every call
is a tracking lookup first (rate-limited per client, expired links 404 as unknown ones),
then a body decoded strictly (server/wire/self_service.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
# What a route does once the order is found and the body decoded: its answer and status.
Act = Callable[[Services, Order, T], Awaitable[tuple[object, int]]]


async def _serve(request: Request, kind: type[T], act: Act[T]) -> Response:
    """Look the order up, decode the body, act; the refusals answered alike on every route
    (404/413/422/429 before acting, 409/422/429 from the use-case)."""
    services: Services = request.app.state.services
    if isinstance(order := await tracked(request, services), Response):
        return order
    if isinstance(spec := await decode_body(request, kind, MAX_BODY_BYTES, "body"), Response):
        return spec
    try:
        content, status_code = await act(services, order, spec)
    except self_service.WrongState as exc:
        return json_response(wire.WrongState(str(exc), exc.status.value), 409, HEADERS)
    except self_service.Invalid as exc:
        return error_response(422, str(exc))
    except self_service.TooManyIssues as exc:
        return error_response(429, str(exc))
    except orders.NoSuchOrder:  # gone since the lookup
        return error_response(404, UNKNOWN_CODE)
    return json_response(content, status_code, HEADERS)


async def instructions(request: Request) -> Response:
    async def act(
        services: Services, order: Order, spec: wire.InstructionsIn
    ) -> tuple[object, int]:
        after = await self_service.set_instructions(services, order, spec.text, _now())
        return wire.InstructionsView(after.delivery_instructions, after.status.value), 200

    return await _serve(request, wire.InstructionsIn, act)


async def issues(request: Request) -> Response:
    async def act(services: Services, order: Order, spec: wire.IssueIn) -> tuple[object, int]:
        issue = await self_service.report_issue(services, order, spec.reason, spec.text, _now())
        return wire.IssueView(issue.id, issue.reason, issue.text, issue.at), 201

    return await _serve(request, wire.IssueIn, act)


async def rating(request: Request) -> Response:
    async def act(services: Services, order: Order, spec: wire.RatingIn) -> tuple[object, int]:
        rated = await self_service.rate(services, order, spec.score, spec.comment, _now())
        return wire.RatingView(rated.score, rated.comment, rated.at), 200

    return await _serve(request, wire.RatingIn, act)


async def reattempt(request: Request) -> Response:
    async def act(services: Services, order: Order, spec: wire.ReattemptIn) -> tuple[object, int]:
        entry = await self_service.request_reattempt(services, order, spec.note, _now())
        return wire.ReattemptView(entry.status.value, entry.at, entry.note), 200

    return await _serve(request, wire.ReattemptIn, act)


def _now() -> datetime:
    return datetime.now(UTC)
