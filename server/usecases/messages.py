"""Messages from dispatch to a courier: stored, then published on the driver's topic, so
the courier's socket on any process writes it at once; a courier not connected gets it
when it connects (server/edges/sockets/courier_feed.py sends the recent ones)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from asyncpg.pool import PoolConnectionProxy

from server.live.state import Live
from server.store import messages as store
from server.transport.hub import messages_topic
from server.wire import alerts as wire


class MessageServices(Protocol):
    """What sending a message uses of the running app (server/edges/services.py)."""

    @property
    def live(self) -> Live: ...
    def db(self) -> AbstractAsyncContextManager[PoolConnectionProxy]: ...


async def send(
    services: MessageServices, driver_id: int, text: str, actor: str, now: datetime
) -> store.DriverMessage | None:
    """Store the message and send it to the courier; None when there is no such driver."""
    async with services.db() as conn:
        message = await store.add_message(conn, driver_id, text, actor, now)
    if message is not None:
        data = wire.encode(wire.courier_message(message))
        services.live.hub.publish(messages_topic(driver_id), data)
    return message
