"""What goes to a courier's own socket besides acks: the driver's topic (messages from
dispatch, on whichever process they were sent), and on connect the recent messages, so a
courier who was offline when one was sent still gets it.

On connect: subscribe first, then read the recent messages (the last `RECENT`, at most
`RECENT_MAX`, usecases/messages.py: read in batches), so that nothing falls between; a
message both read and published meanwhile is sent once. The page may see a message again
after a reconnect: it keeps them by `id`.
`delivered_at` is set the first time a message is written to a courier socket.

The courier's socket carries its fixes and acks: it is never closed for the feed's sake.
When the feed may have missed messages (the bus between processes had a gap, or the
subscriber overflowed), it subscribes afresh and reads the recent messages again, sending
those it has not sent.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from server.edges.net.ws_direct import DirectSocket
from server.edges.services import Services
from server.store import messages as store
from server.transport.hub import messages_topic
from server.transport.subscriber import Subscriber
from server.wire import alerts as wire

log = logging.getLogger("tracker.ingest")

MAX_REMEMBERED = 1_000  # ids of messages sent on one socket; past it, forgotten (resent)


class CourierFeed:
    __slots__ = ("_delivered", "_driver_id", "_marking", "_resyncing", "_sent", "_services",
                 "_sock", "_stopped", "_subscriber", "_topic")  # fmt: skip

    def __init__(self, sock: DirectSocket, driver_id: int, services: Services) -> None:
        self._sock = sock
        self._driver_id = driver_id
        self._services = services
        self._topic = messages_topic(driver_id)
        self._subscriber = Subscriber(services.settings.subscriber_max_pending)
        self._sent: set[int] = set()  # messages sent on this socket: not again
        self._delivered: list[int] = []  # written, delivered_at not stored yet
        self._marking: asyncio.Task[None] | None = None
        self._resyncing: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self) -> None:
        """Subscribe, send the recent messages, then what the topic brings, as it comes."""
        services = self._services
        hub = services.live.hub
        hub.subscribe(self._topic, self._subscriber)
        await hub.ready(self._topic)
        recent = await services.recent_messages.of(self._driver_id)
        for message in recent:
            if message.id not in self._sent:
                data = wire.encode(wire.courier_message(message))
                self._send(data, message.id, message.delivered_at is None)
        self._subscriber.on_ready = self._kick
        self._kick()

    def _send(self, data: bytes, message_id: int | None, undelivered: bool = True) -> None:
        if self._sock.send_now(data) and message_id is not None:
            if len(self._sent) >= MAX_REMEMBERED:
                self._sent.clear()
            self._sent.add(message_id)
            if undelivered:
                self._delivered.append(message_id)

    def _kick(self) -> None:
        subscriber = self._subscriber
        if subscriber.closed:  # it may have missed messages: read them again
            if not self._stopped and self._resyncing is None:
                self._resyncing = asyncio.get_running_loop().create_task(self._resync())
            return
        for data in subscriber.take_nowait():
            message_id = wire.message_id(data) if data.startswith(wire.MESSAGE_PREFIX) else None
            if message_id is None or message_id not in self._sent:
                self._send(data, message_id)
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

    async def _resync(self) -> None:
        old = self._subscriber
        old.on_ready = None
        self._services.live.hub.unsubscribe(self._topic, old)
        self._subscriber = Subscriber(self._services.settings.subscriber_max_pending)
        try:
            await self.start()
        except Exception as exc:  # the database away: the next connect sends them
            log.warning("courier %d: messages not read again: %r", self._driver_id, exc)
        finally:
            self._resyncing = None

    def stop(self) -> None:
        self._stopped = True
        if self._resyncing is not None:
            self._resyncing.cancel()
        self._subscriber.on_ready = None
        self._subscriber.close()
        self._services.live.hub.unsubscribe(self._topic, self._subscriber)
