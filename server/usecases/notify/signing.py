"""Webhook signatures per the Standard Webhooks specification (standardwebhooks.com), so a
receiver can check who sent a delivery and when with a stock verifier in any language.

`webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`.
The key: for a secret of the spec's form `whsec_<base64>`, the decoded bytes (new
secrets have that form); for any other secret (chosen by the subscriber), its UTF-8 bytes,
which a stock verifier is given as `whsec_` + base64 of the secret.

The older `X-Tracker-Signature: v1=<hex HMAC-SHA256 of "{timestamp}.{body}">` (key: the
secret string's bytes) is still sent, for receivers written before; it is deprecated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
EVENT_TYPE_HEADER = "X-Tracker-Event"
# Deprecated: the signature scheme before Standard Webhooks (same id and timestamp values).
LEGACY_SIGNATURE_HEADER = "X-Tracker-Signature"
LEGACY_TIMESTAMP_HEADER = "X-Tracker-Timestamp"
LEGACY_EVENT_ID_HEADER = "X-Tracker-Event-Id"


def new_secret() -> str:
    """A fresh secret in the spec's form: `whsec_` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signing_key(secret: str) -> bytes:
    """
    >>> signing_key("whsec_c2VjcmV0")
    b'secret'
    >>> signing_key("a secret chosen by hand")  # not the spec's form: its own bytes
    b'a secret chosen by hand'
    """
    if secret.startswith(SECRET_PREFIX):
        try:
            key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error:
            key = b""
        if key:
            return key
    return secret.encode()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value.

    >>> sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
    ...      1614265330, b'{"test": 2432232314}')
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
    """
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    mac = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def sign_legacy(secret: str, timestamp: int, body: bytes) -> str:
    """The deprecated `X-Tracker-Signature` value.

    >>> sign_legacy("s3cret", 1700000000, b'{"a":1}')[:10]
    'v1=1698a50'
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def headers(
    secret: str, webhook_id: str, event_type: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Every header a delivery carries besides Content-Type."""
    return {
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, webhook_id, timestamp, body),
        EVENT_TYPE_HEADER: event_type,
        LEGACY_EVENT_ID_HEADER: webhook_id,
        LEGACY_TIMESTAMP_HEADER: str(timestamp),
        LEGACY_SIGNATURE_HEADER: sign_legacy(secret, timestamp, body),
    }


def verify(
    secret: str,
    webhook_id: str,
    timestamp: int,
    body: bytes,
    signature: str,
    now_s: float,
    tolerance_s: float = 300,
) -> bool:
    """What a receiver does: one of the space-separated signatures matches and the
    timestamp is recent (older ones are replays)."""
    if abs(now_s - timestamp) > tolerance_s:
        return False
    expected = sign(secret, webhook_id, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in signature.split(" "))
