"""Credentials: driver tokens (random, stored as SHA-256), the admin key, generated device
ids, and where clients put them: `Authorization: Bearer`, or on sockets (where browsers
cannot set headers) the subprotocols `tracker, tracker.token.<token>` (answered with
`tracker`), or `?token=`, which lands in proxies' and servers' access logs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from starlette.datastructures import Headers, QueryParams

TOKEN_BYTES = 24  # 192 random bits: a plain hash is enough, no key stretching needed
DEVICE_ID_BYTES = 16  # 128 bits: OsmAnd apps send no password, the id is the secret
GENERATE_DEVICE_ID = "generate"  # asked for as a device id: draw one
SUBPROTOCOL = "tracker"  # what the server answers when a client offers it
TOKEN_SUBPROTOCOL_PREFIX = "tracker.token."


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_device_id() -> str:
    """26 lowercase letters and digits (base32): easy to copy into a phone app."""
    return base64.b32encode(secrets.token_bytes(DEVICE_ID_BYTES)).decode().rstrip("=").lower()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def presented_token(
    headers: Headers, query: QueryParams | None = None, subprotocols: Sequence[str] = ()
) -> str | None:
    """The bearer token from the Authorization header, else from a `tracker.token.<token>`
    subprotocol, else from `?token=`."""
    header = headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for offered in subprotocols:
        if offered.startswith(TOKEN_SUBPROTOCOL_PREFIX) and len(offered) > len(
            TOKEN_SUBPROTOCOL_PREFIX
        ):
            return offered[len(TOKEN_SUBPROTOCOL_PREFIX) :]
    if query is not None:
        token = query.get("token")
        if token:
            return token
    return None


def is_admin(token: str | None, admin_token: str | None) -> bool:
    """Whether `token` is that operator secret (the admin or metrics token), in constant
    time; never when either is missing."""
    if not token or not admin_token:
        return False
    return hmac.compare_digest(token.encode(), admin_token.encode())


def accepted_subprotocol(subprotocols: Sequence[str]) -> str | None:
    """`tracker` when the client offered it (browsers fail a handshake that answers none
    of the subprotocols they offered; the token's own is never echoed)."""
    return SUBPROTOCOL if SUBPROTOCOL in subprotocols else None
