"""The hub: topics, subscribers and publishing, behind one interface.

`MemoryHub` serves one process. `RedisHub` (redis_hub.py) serves several: `publish`
offers the already-encoded bytes to the local subscribers at once and sends the same bytes
once to Redis, and each other process offers them to its own subscribers.

Topics: `order:{id}` (customers watching one order), `driver:{id}` (the courier's own
socket: their run), `driver:{id}:messages` (the courier's own socket: messages from
dispatch), `fleet:alerts` (dispatchers; the fleet's deltas are built by each process from
its own picture, see fleet.py).
Besides topics, processes exchange their live state (`broadcast`, see cluster.py): a
message never comes back to the process that sent it.
"""

from __future__ import annotations

from typing import Protocol

from server.transport.subscriber import Subscriber

ALERTS_TOPIC = "fleet:alerts"
# Conflation keys of the messages that show the courier on an order's topic.
POSITION_KEY = "position"  # one conflatable position per order topic
ETA_KEY = "eta"  # a newer ETA supersedes the one still waiting
RUN_KEY = "run"  # a courier's newer run supersedes the one still waiting


def order_topic(order_id: int) -> str:
    return f"order:{order_id}"


def driver_topic(driver_id: int) -> str:
    """The topic of one courier's run, to their socket (on whichever process it is)."""
    return f"driver:{driver_id}"


def messages_topic(driver_id: int) -> str:
    """The topic of messages from dispatch to one courier's socket (its own topic: the run
    conflates, messages never do)."""
    return f"driver:{driver_id}:messages"


def order_of_topic(topic: str) -> int | None:
    prefix, _, rest = topic.partition(":")
    return int(rest) if prefix == "order" and rest.isdigit() else None


class Peer(Protocol):
    """What the hub tells the process's live state about the other processes."""

    def on_cluster_message(self, data: bytes) -> None:
        """State broadcast by another process."""

    def on_bus_connected(self, first: bool) -> None:
        """The bus is (again) connected and subscribed: time to exchange state."""

    def admits(self, topic: str, key: str | None) -> bool:
        """Whether a message another process published may reach local subscribers."""


class Hub(Protocol):
    origin: str  # this process, as other processes know it
    clustered: bool  # there may be other processes

    def subscribe(self, topic: str, subscriber: Subscriber) -> None: ...

    def unsubscribe(self, topic: str, subscriber: Subscriber) -> None: ...

    async def ready(self, topic: str) -> None:
        """Return once messages other processes publish on `topic` reach this process
        (bounded wait; at once when there is no bus or it is down)."""
        ...

    def publish(self, topic: str, data: bytes, key: str | None = None) -> None:
        """Offer `data` (encoded once by the caller) to every subscriber of `topic`.

        Never blocks. `key` marks a conflatable message (see Subscriber).
        """
        ...

    def broadcast(self, data: bytes, key: str | None = None) -> None:
        """Send live state to the other processes (none: nothing happens). Never blocks;
        a newer message with the same `key` replaces one still waiting."""
        ...

    def subscribers(self, topic: str) -> tuple[Subscriber, ...]:
        """This process's subscribers of `topic`."""
        ...

    def attach(self, peer: Peer) -> None: ...

    def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalTopics:
    """This process's subscribers by topic."""

    def __init__(self) -> None:
        self._topics: dict[str, set[Subscriber]] = {}

    def add(self, topic: str, subscriber: Subscriber) -> bool:
        """Returns True for the topic's first subscriber."""
        subscribers = self._topics.get(topic)
        if subscribers is None:
            self._topics[topic] = {subscriber}
            return True
        subscribers.add(subscriber)
        return False

    def remove(self, topic: str, subscriber: Subscriber) -> bool:
        """Returns True when the topic's last subscriber left."""
        subscribers = self._topics.get(topic)
        if subscribers is None:
            return False
        subscribers.discard(subscriber)
        if subscribers:
            return False
        del self._topics[topic]
        return True

    def offer(self, topic: str, data: bytes, key: str | None) -> None:
        for subscriber in self._topics.get(topic, ()):
            subscriber.offer(data, key)

    def subscribers(self, topic: str) -> tuple[Subscriber, ...]:
        return tuple(self._topics.get(topic, ()))

    def topics(self) -> list[str]:
        return list(self._topics)

    def interrupt(self, reason: str) -> int:
        """Interrupt every subscriber (see Subscriber.interrupt); returns how many."""
        count = 0
        for subscribers in self._topics.values():
            for subscriber in subscribers:
                subscriber.interrupt(reason)
                count += 1
        return count

    def close(self) -> None:
        for subscribers in self._topics.values():
            for subscriber in subscribers:
                subscriber.close()
        self._topics.clear()


class MemoryHub:
    """One process: publishing offers to local subscribers, and that is all."""

    origin = "local"
    clustered = False

    def __init__(self) -> None:
        self._local = LocalTopics()

    def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        self._local.add(topic, subscriber)

    def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        self._local.remove(topic, subscriber)

    async def ready(self, topic: str) -> None:
        return None

    def publish(self, topic: str, data: bytes, key: str | None = None) -> None:
        self._local.offer(topic, data, key)

    def broadcast(self, data: bytes, key: str | None = None) -> None:
        return None

    def attach(self, peer: Peer) -> None:
        return None

    def start(self) -> None:
        return None

    def subscribers(self, topic: str) -> tuple[Subscriber, ...]:
        return self._local.subscribers(topic)

    async def close(self) -> None:
        self._local.close()
