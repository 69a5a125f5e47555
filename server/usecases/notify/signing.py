"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", so a receiver can check
both who sent it and when (and reject replays of old deliveries)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Tracker-Signature"
TIMESTAMP_HEADER = "X-Tracker-Timestamp"
EVENT_ID_HEADER = "X-Tracker-Event-Id"
EVENT_TYPE_HEADER = "X-Tracker-Event"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """
    >>> sign("s3cret", 1700000000, b'{"a":1}')[:10]
    'v1=1698a50'
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(
    secret: str, timestamp: int, body: bytes, signature: str, now_s: float, tolerance_s: float = 300
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    if abs(now_s - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
