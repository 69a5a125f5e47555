"""The links in customers' messages: their preferences page (the tracking code is the
capability, as for every self-service route) and the one-click unsubscribe of RFC 8058,
signed per order and channel with this installation's secret (migration 0016), so a
`List-Unsubscribe` URL turns off that channel of that order and nothing else.

>>> sig = signature(b"k" * 32, "7KQ2M9XD3HVAPR4T", "email")
>>> len(sig), valid(b"k" * 32, "7KQ2M9XD3HVAPR4T", "email", sig)
(22, True)
>>> valid(b"k" * 32, "7KQ2M9XD3HVAPR4T", "sms", sig)
False
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import asyncpg

from server.base.settings import Settings
from server.domain.codes import display, normalise
from server.store import outbox

CHANNELS = ("email", "sms")


def signature(secret: bytes, code: str, channel: str) -> str:
    """128 bits of HMAC-SHA256 over the normalised code and the channel, URL-safe."""
    mac = hmac.new(secret, f"unsubscribe:{code}:{channel}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b"=").decode()


def valid(secret: bytes, code: str, channel: str, sig: str) -> bool:
    return channel in CHANNELS and hmac.compare_digest(signature(secret, code, channel), sig)


def preferences_url(settings: Settings, code: str) -> str:
    return f"{settings.base_url}/track/{display(code)}/preferences"


def unsubscribe_url(settings: Settings, secret: bytes, code: str, channel: str) -> str:
    sig = signature(secret, code, channel)
    return f"{settings.base_url}/api/track/{display(code)}/unsubscribe?channel={channel}&sig={sig}"


def with_links(
    context: dict[str, Any], channel: str, settings: Settings, secret: bytes
) -> tuple[dict[str, Any], str | None]:
    """A customer message's context with `preferences_url`, and its unsubscribe URL."""
    code = normalise(str(context.get("tracking_code", "")))
    if code is None or channel not in CHANNELS:
        return context, None
    return (
        {**context, "preferences_url": preferences_url(settings, code)},
        unsubscribe_url(settings, secret, code, channel),
    )


async def wants_sms_footer(pool: asyncpg.Pool, message: outbox.Message) -> bool:
    """The preferences link goes in an order's first SMS only: it would make most later
    ones two segments long (twice the price) for a link the customer has already had.
    Emails always carry it. Two SMS sent at once may both carry it; none can miss it."""
    if message.channel != "sms" or message.order_id is None:
        return True
    async with pool.acquire() as conn:
        return not await outbox.customer_sms_sent(conn, message.order_id)
