"""Request guards shared by the REST endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.auth import is_admin, presented_token
from server.responses import UNAUTHORIZED_HEADERS, error_response
from server.services import Services


def require_admin(request: Request) -> Response | None:
    """None when the request carries the admin key, else the 401/403 to answer with."""
    services: Services = request.app.state.services
    token = presented_token(request.headers)
    if token is None:
        return error_response(
            401, "missing API key (Authorization: Bearer …)", UNAUTHORIZED_HEADERS
        )
    if not is_admin(token, services.settings.admin_token):
        return error_response(403, "this key may not do that")
    return None
