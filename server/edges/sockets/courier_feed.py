"""What goes to a courier's own socket besides acks: the driver's topic (messages from
dispatch, on whichever process they were sent), and on connect the recent messages, so a
courier who was offline when one was sent still gets it.

On connect: subscribe first, then read the recent messages (the last `RECENT`, at most
`RECENT_MAX`), so that nothing falls between; a message both read and published meanwhile
is sent once. The page may see a message again after a reconnect: it keeps them by `id`.
`delivered_at` is set the first time a message is written to a courier socket.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from server.edges.net.ws_direct import DirectSocket
from server.edges.services import Services
from server.store import messages as store
from server.transport.hub import driver_topic
from server.transport.subscriber import Subscriber
from server.wire import alerts as wire

log = logging.getLogger("tracker.ingest")

RECENT = timedelta(hours=24)
RECENT_MAX = 50
CLOSE_TOO_SLOW = 1013


class CourierFeed:
    __slots__ = ("_delivered", "_driver_id", "_marking", "_sent", "_services", "_sock",
                 "_subscriber", "_topic")  # fmt: skip

    def __init__(self, sock: DirectSocket, driver_id: int, services: Services) -> None:
        self._sock = sock
        self._driver_id = driver_id
        self._services = services
        self._topic = driver_topic(driver_id)
        self._subscriber = Subscriber(services.settings.subscriber_max_pending)
        self._sent: set[int] = set()  # messages sent on connect: not again
        self._delivered: list[int] = []  # written, delivered_at not stored yet
        self._marking: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe, send the recent messages, then what the topic brings, as it comes."""
        services = self._services
        hub = services.live.hub
        hub.subscribe(self._topic, self._subscriber)
        await hub.ready(self._topic)
        now = datetime.now(UTC)
        async with services.db() as conn:
            recent = await store.recent_messages(conn, self._driver_id, RECENT, RECENT_MAX, now)
        for message in recent:
            if self._sock.send_now(wire.encode(wire.courier_message(message))):
                self._sent.add(message.id)
                if message.delivered_at is None:
                    self._delivered.append(message.id)
        self._subscriber.on_ready = self._kick
        self._kick()

    def _kick(self) -> None:
        subscriber, sock = self._subscriber, self._sock
        if subscriber.overflowed:
            sock.close_now(CLOSE_TOO_SLOW, subscriber.reason)
            return
        for data in subscriber.take_nowait():
            message_id = wire.message_id(data) if data.startswith(wire.MESSAGE_PREFIX) else None
            if message_id is not None and message_id in self._sent:
                continue
            if sock.send_now(data) and message_id is not None:
                self._delivered.append(message_id)
        if self._delivered and self._marking is None:
            self._marking = asyncio.get_running_loop().create_task(self._mark())

    async def _mark(self) -> None:
        """Store `delivered_at` for what was written (one update for a burst)."""
        try:
            while self._delivered:
                ids, self._delivered = self._delivered, []
                async with self._services.db() as conn:
                    await store.mark_delivered(conn, ids, datetime.now(UTC))
        except Exception as exc:  # only a record of delivery: the courier has the message
            log.warning("courier %d: delivery of messages not recorded: %r", self._driver_id, exc)
        finally:
            self._marking = None

    def stop(self) -> None:
        self._subscriber.on_ready = None
        self._subscriber.close()
        self._services.live.hub.unsubscribe(self._topic, self._subscriber)
