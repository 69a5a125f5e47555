"""What a customer chose to hear about their order (per channel), from their preferences
page or one click on a message's unsubscribe link. The outbox honours it when sending
(server/store/outbox.py skip_opted_out): a message for a channel turned off is logged as
skipped, not sent. Webhooks are not the customer's: unaffected."""

from __future__ import annotations

from server.store import preferences as store
from server.store.orders import Order
from server.usecases.notify import links
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


async def unsubscribe(
    services: Services, order: Order, channel: str, sig: str
) -> store.Preferences:
    """One click (RFC 8058): `channel` off for this order, if `sig` is this installation's."""
    async with services.db() as conn:
        installation = await store.installation(conn)
        if not links.valid(installation.secret, order.tracking_code, channel, sig):
            raise BadLink("this unsubscribe link is not valid for this order and channel")
        changed = await store.set_preferences(
            conn,
            order.id,
            False if channel == "email" else None,
            False if channel == "sms" else None,
        )
    return current(order) if changed is None else changed
