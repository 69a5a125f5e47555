"""`/api/keys` (admin): create dispatcher/admin API keys (shown once), list and revoke them.

A revoked key is refused at once by every process: REST checks the key on each request,
and its open fleet sockets are closed with 4401 (server/usecases/revocation.py). The bootstrap
admin token (`TRACKER_ADMIN_TOKEN`) is no key here and cannot be revoked this way: change
it in the environment and restart.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from server.base.auth import hash_token, new_token
from server.edges.guards import ROLES, guarded, path_id
from server.edges.responses import SECRET_HEADERS, decode_body, error_response, json_response
from server.edges.rest.validation import ApiKeyIn
from server.edges.services import Caller, Services
from server.store import credentials
from server.wire.rest import KeyCreated, Keys, key_view

log = logging.getLogger("tracker.keys")

MAX_BODY_BYTES = 16 * 1024


@guarded("admin")
async def create_api_key(request: Request, caller: Caller, services: Services) -> Response:
    if isinstance(spec := await decode_body(request, ApiKeyIn, MAX_BODY_BYTES, "key"), Response):
        return spec
    if spec.role not in ROLES:
        return error_response(422, f"role must be one of {', '.join(ROLES)}")
    key = new_token()
    async with services.db() as conn:
        key_id = await credentials.create_api_key(conn, spec.name, spec.role, hash_token(key))
    log.info("API key %d (%s) created by %s", key_id, spec.role, caller.actor)
    return json_response(KeyCreated(key_id, spec.name, spec.role, key), 201, SECRET_HEADERS)


@guarded("admin")
async def list_api_keys(request: Request, caller: Caller, services: Services) -> Response:
    async with services.db() as conn:
        keys = await credentials.list_api_keys(conn)
    return json_response(Keys([key_view(k) for k in keys]))


@guarded("admin")
async def revoke_api_key(request: Request, caller: Caller, services: Services) -> Response:
    key_id = path_id(request, "key_id")
    async with services.db() as conn:
        revoked = None if key_id is None else await credentials.revoke_api_key(conn, key_id)
    if revoked is None:
        return error_response(404, "no such API key")
    log.info("API key %d revoked by %s", key_id, caller.actor)
    return Response(status_code=204)
