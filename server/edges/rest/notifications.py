"""REST for webhooks (`/api/webhooks…`) and the per-order notification log."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import httpx
import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.base.networks import parse_networks
from server.base.settings import Settings
from server.edges.guards import guarded, path_id
from server.edges.responses import decode_body, error_response, json_response
from server.edges.rest.params import query_int
from server.edges.services import Caller, Services
from server.store import outbox
from server.usecases.notify import destinations, signing
from server.usecases.notify.events import WEBHOOK_EVENTS
from server.wire import notify as wire

MAX_BODY_BYTES = 16 * 1024


class SubscriptionIn(msgspec.Struct, frozen=True):
    url: Annotated[str, msgspec.Meta(min_length=8, max_length=2000)]
    events: Annotated[list[str], msgspec.Meta(min_length=1, max_length=50)]
    secret: Annotated[str, msgspec.Meta(min_length=16, max_length=200)] | None = None
    position_interval_s: Annotated[float, msgspec.Meta(ge=1, le=86_400)] = 30.0


@guarded("admin")
async def create_subscription(request: Request, caller: Caller, services: Services) -> Response:
    spec = await decode_body(request, SubscriptionIn, MAX_BODY_BYTES, "subscription")
    if isinstance(spec, Response):
        return spec
    try:
        url = urlsplit(spec.url)
        # .port raises ValueError for a port that is not a number in 0..65535.
        usable = url.scheme in ("http", "https") and bool(url.hostname) and url.port != 0
    except ValueError:  # e.g. "http://[::1"
        usable = False
    if not usable:
        return error_response(422, "url must be an http(s) URL")
    refused = await _refused_url(spec.url, services.settings)
    if refused is not None:
        return error_response(422, refused)
    unknown = sorted(set(spec.events) - WEBHOOK_EVENTS - {"*"})
    if unknown:
        known = ", ".join(sorted(WEBHOOK_EVENTS))
        return error_response(422, f"unknown event types {unknown}; known: *, {known}")
    secret = spec.secret or signing.new_secret()
    async with services.db() as conn:
        sub = await outbox.create_subscription(
            conn, spec.url, sorted(set(spec.events)), secret, spec.position_interval_s
        )
    await services.notifier.reload_subscriptions()
    return json_response(wire.subscription_view(sub, with_secret=True), 201)


async def _refused_url(raw: str, settings: Settings) -> str | None:
    """Why webhooks may not go to `raw`, or None. Parsed as httpx (which sends) parses it,
    so the host checked here is the one connected to; checked again at every send."""
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as exc:
        return f"url is not a valid URL ({exc})"
    if url.scheme not in ("http", "https") or not url.host:
        return "url must be an http(s) URL"
    allowed = parse_networks(settings.webhook_allow_private)
    try:
        await destinations.checked_addresses(url.host, allowed, settings.notify_send_timeout_s)
    except (destinations.RefusedDestination, destinations.UnresolvedHost) as exc:
        return f"url not allowed: {exc}"
    return None


@guarded("admin")
async def list_subscriptions(request: Request, caller: Caller, services: Services) -> Response:
    async with services.db() as conn:
        subs = await outbox.subscriptions(conn)
    return json_response([wire.subscription_view(s, with_secret=False) for s in subs])


@guarded("admin")
async def get_subscription(request: Request, caller: Caller, services: Services) -> Response:
    sub_id = path_id(request, "subscription_id")
    async with services.db() as conn:
        sub = None if sub_id is None else await outbox.get_subscription(conn, sub_id)
    if sub is None:
        return error_response(404, "no such subscription")
    return json_response(wire.subscription_view(sub, with_secret=False))


@guarded("admin")
async def delete_subscription(request: Request, caller: Caller, services: Services) -> Response:
    sub_id = path_id(request, "subscription_id")
    async with services.db() as conn:
        deleted = sub_id is not None and await outbox.delete_subscription(conn, sub_id)
    if not deleted:
        return error_response(404, "no such subscription")
    await services.notifier.reload_subscriptions()
    return Response(status_code=204)


@guarded("admin")
async def enable_subscription(request: Request, caller: Caller, services: Services) -> Response:
    sub_id = path_id(request, "subscription_id")
    async with services.db() as conn:
        sub = None if sub_id is None else await outbox.enable_subscription(conn, sub_id)
    if sub is None:
        return error_response(404, "no such subscription")
    await services.notifier.reload_subscriptions()
    return json_response(wire.subscription_view(sub, with_secret=False))


@guarded("admin")
async def subscription_deliveries(request: Request, caller: Caller, services: Services) -> Response:
    sub_id = path_id(request, "subscription_id")
    try:
        limit = min(query_int(request.query_params, "limit", 100, low=1), 1000)
    except ValueError as exc:
        return error_response(422, str(exc))
    async with services.db() as conn:
        sub = None if sub_id is None else await outbox.get_subscription(conn, sub_id)
        if sub is None:
            return error_response(404, "no such subscription")
        found = await outbox.deliveries(conn, sub.id, limit)
    return json_response([wire.delivery_view(d) for d in found])


@guarded("support")
async def order_notifications(request: Request, caller: Caller, services: Services) -> Response:
    order_id = path_id(request, "order_id")
    async with services.db() as conn:
        log = [] if order_id is None else await outbox.order_log(conn, order_id)
    return json_response([wire.sent_view(m) for m in log])
