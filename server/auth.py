"""Credentials: driver tokens (random, stored as SHA-256), the admin key, and where
clients put them (Authorization: Bearer, or `?token=` on sockets, which browsers can't
give headers)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.datastructures import Headers, QueryParams

TOKEN_BYTES = 24  # 192 random bits: a plain hash is enough, no key stretching needed


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def presented_token(headers: Headers, query: QueryParams | None = None) -> str | None:
    """The bearer token from the Authorization header, else from `?token=`."""
    header = headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if query is not None:
        token = query.get("token")
        if token:
            return token
    return None


def is_admin(token: str | None, admin_token: str | None) -> bool:
    if not token or not admin_token:
        return False
    return hmac.compare_digest(token.encode(), admin_token.encode())
