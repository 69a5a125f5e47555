"""The hub: topics, subscribers and publishing, behind one interface.

`MemoryHub` serves one process. A Redis backend (several processes) implements the same
interface: `publish` sends the already-encoded bytes once to the bus, and each process
offers them to its local subscribers.

Topics: `order:{id}` (customers watching one order), `fleet` (dispatchers; see fleet.py).
"""

from __future__ import annotations

from typing import Protocol

from server.live.subscriber import Subscriber


class Hub(Protocol):
    def subscribe(self, topic: str, subscriber: Subscriber) -> None: ...

    def unsubscribe(self, topic: str, subscriber: Subscriber) -> None: ...

    def publish(self, topic: str, data: bytes, key: str | None = None) -> None:
        """Offer `data` (encoded once by the caller) to every subscriber of `topic`.

        Never blocks. `key` marks a conflatable message (see Subscriber).
        """
        ...

    async def close(self) -> None: ...


def order_topic(order_id: int) -> str:
    return f"order:{order_id}"


class MemoryHub:
    def __init__(self) -> None:
        self._topics: dict[str, set[Subscriber]] = {}

    def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        self._topics.setdefault(topic, set()).add(subscriber)

    def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        subscribers = self._topics.get(topic)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._topics[topic]

    def publish(self, topic: str, data: bytes, key: str | None = None) -> None:
        for subscriber in self._topics.get(topic, ()):
            subscriber.offer(data, key)

    def subscribers(self, topic: str) -> tuple[Subscriber, ...]:
        return tuple(self._topics.get(topic, ()))

    async def close(self) -> None:
        for subscribers in self._topics.values():
            for subscriber in subscribers:
                subscriber.close()
        self._topics.clear()
