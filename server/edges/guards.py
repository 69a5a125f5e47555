"""Request guards shared by the REST endpoints."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from server.base.auth import presented_token
from server.edges.responses import UNAUTHORIZED_HEADERS, error_response
from server.edges.services import Caller, Services
from server.store.queries import Driver

# Each may do what the ones before it may. `support` (customer service) reads orders, their
# timelines and notification logs, and changes nothing; never positions (docs/api.md).
ROLES = ("support", "dispatcher", "admin")


async def require_role(request: Request, role: str) -> Caller | Response:
    """The caller when its API key has `role` (or above), else the 401/403 to answer with."""
    services: Services = request.app.state.services
    key = presented_token(request.headers)
    return _with_role(None if key is None else await services.caller_for_key(key), key, role)


def _with_role(caller: Caller | None, key: str | None, role: str) -> Caller | Response:
    if key is None:
        return error_response(
            401, "missing API key (Authorization: Bearer …)", UNAUTHORIZED_HEADERS
        )
    if caller is None:
        return error_response(401, "unknown API key", UNAUTHORIZED_HEADERS)
    if ROLES.index(caller.role) < ROLES.index(role):
        return error_response(403, f"this key may not do that (needs the {role} role)")
    return caller


GuardedHandler = Callable[[Request, Caller, Services], Awaitable[Response]]


def guarded(role: str) -> Callable[[GuardedHandler], Callable[[Request], Awaitable[Response]]]:
    """An endpoint for a handler that needs an API key with `role` (or above): the 401/403
    is answered here; the handler gets the caller and the services."""

    def wrap(handler: GuardedHandler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            caller = await require_role(request, role)
            if isinstance(caller, Response):
                return caller
            return await handler(request, caller, request.app.state.services)

        return endpoint

    return wrap


DriverHandler = Callable[[Request, Driver, Services], Awaitable[Response]]


def guarded_or_driver(
    role: str, for_driver: DriverHandler
) -> Callable[[GuardedHandler], Callable[[Request], Awaitable[Response]]]:
    """As `guarded`, except that a driver's token goes to `for_driver` (which decides what
    a courier may do there) instead of being refused."""

    def wrap(handler: GuardedHandler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            services: Services = request.app.state.services
            key = presented_token(request.headers)
            found = None if key is None else await services.caller_for_key(key)
            if key is not None and found is None:
                driver = await services.driver_for_token(key)
                if driver is not None:
                    return await for_driver(request, driver, services)
            caller = _with_role(found, key, role)  # the 401/403, or the API key's caller
            if isinstance(caller, Response):
                return caller
            return await handler(request, caller, services)

        return endpoint

    return wrap


def client_address(conn: HTTPConnection) -> str:
    """The address per-client limits count against, for requests and sockets alike.

    uvicorn has already replaced the peer with the X-Forwarded-For client when the peer is
    one of `TRACKER_TRUSTED_PROXIES` (server/serve.py), and only then: a header from anyone
    else is ignored. Nothing else may read the address another way.
    """
    return conn.client.host if conn.client else "unknown"


def path_id(request: Request, name: str) -> int | None:
    """A numeric id from the path, or None when it cannot name a row (a 404)."""
    raw: str = request.path_params[name]
    return int(raw) if raw.isdigit() and int(raw) < 2**63 else None
