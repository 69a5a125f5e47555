"""What a customer chose to hear about their order (per channel), from their preferences
page or one click on a message's unsubscribe link. The outbox honours it when sending
(server/store/outbox.py skip_opted_out): a message for a channel turned off is logged as
skipped, not sent. Webhooks are not the customer's: unaffected."""

from __future__ import annotations

from datetime import UTC, datetime

from server.domain import codes
from server.store import order_reads
from server.store import preferences as store
from server.store.orders import Order
from server.usecases.notify import links
from server.usecases.order_views import link_expires_at
from server.usecases.orders import OrderServices as Services


class BadLink(ValueError):
    """An unsubscribe link that this installation did not sign for this order and channel."""


def current(order: Order) -> store.Preferences:
    return store.Preferences(not order.email_opt_out, not order.sms_opt_out)


def channels(order: Order) -> list[str]:
    """The channels the order has a contact for."""
    return [
        channel
        for channel, contact in (("email", order.customer_email), ("sms", order.customer_phone))
        if contact
    ]


async def change(
    services: Services, order: Order, email: bool | None, sms: bool | None
) -> store.Preferences:
    async with services.db() as conn:
        changed = await store.set_preferences(conn, order.id, email, sms)
    return current(order) if changed is None else changed


class Gone(LookupError):
    """A signed link whose order is gone, or whose tracking link expired."""


async def unsubscribe(
    services: Services, raw_code: str, channel: str, sig: str
) -> tuple[Order, store.Preferences]:
    """One click (RFC 8058): `channel` off for the order, if `sig` is this installation's
    for its code and that channel. The signature is checked first, on the code as given:
    a link we did not sign learns nothing (not even whether the code exists), and one we
    did needs no tracking-lookup budget (a mail provider sends many from one address)."""
    code = codes.normalise(raw_code)
    # Checked before any pooled connection is taken: the route is not rate-limited, and a
    # forged link must cost no more than the hash (the secret is read once, then kept).
    installation = await services.notifier.installation()
    if code is None or not links.valid(installation.secret, code, channel, sig):
        raise BadLink("this unsubscribe link is not valid for this order and channel")
    async with services.db() as conn:
        order = (await order_reads.orders_by_codes(conn, [code])).get(code)
        expires_at = None if order is None else link_expires_at(order, services.settings)
        if order is None or (expires_at is not None and expires_at <= datetime.now(UTC)):
            raise Gone("unknown or expired tracking code")
        changed = await store.set_preferences(
            conn,
            order.id,
            False if channel == "email" else None,
            False if channel == "sms" else None,
        )
    return order, current(order) if changed is None else changed
