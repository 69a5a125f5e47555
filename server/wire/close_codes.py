"""WebSocket close codes, part of the public contract (docs/api.md): one table for every
socket. 4xxx mirror the HTTP statuses; 10xx are the protocol's own (RFC 6455)."""

from __future__ import annotations

CLOSE_INVALID_DATA = 1007  # a frame that is not UTF-8 text
CLOSE_POLICY = 1008  # abuse: oversized frames, floods
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013  # the database is away, or the client read too slowly: reconnect
CLOSE_UNAUTHORIZED = 4401  # no valid credential, or it was revoked
CLOSE_FORBIDDEN = 4403  # a valid credential that may not do this (HTTP's 403)
CLOSE_UNKNOWN_CODE = 4404  # a tracking code unknown or expired: the two look the same
CLOSE_RATE_LIMITED = 4429
