"""The hub across processes: Redis pub/sub (`TRACKER_BUS=redis://…`).

Channels are the topics under a prefix (`TRACKER_BUS_PREFIX`, default `tracker:`):
`tracker:order:{id}` carries the very bytes customers' sockets get, `tracker:fleet:alerts`
the dispatchers' alerts, and `tracker:cluster` the processes' live state (cluster.py). A
process subscribes to an order's channel only while one of its sockets watches that order;
Redis drops what nobody listens to.

Each message is framed as `origin NUL key NUL payload`: a process drops its own messages
(its local subscribers got them when they were published) and conflates by key like a
local publish.

Publishing never waits on Redis: it offers to the local subscribers and appends to a
bounded, conflating queue (outgoing.py) that one task drains with pipelined PUBLISHes.
One supervisor task owns the connections: it connects, subscribes to every channel that
has local subscribers, runs the reader, writer and keepalive, and on any failure tears
everything down and tries again with exponential backoff (up to `TRACKER_BUS_RETRY_MAX_S`).

While Redis is down, ingest and local fan-out carry on; what would have gone to the other
processes is dropped, not queued (replayed late, it would contradict what they learn from
PostGIS meanwhile). Pub/sub cannot say what a process missed, so on reconnecting each
process catches up instead: its live state through cluster.py (runs reloaded from PostGIS,
drivers' state asked from every process), and its watching sockets are closed with 1013
(as a socket that fell behind is) so that their clients reconnect to a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable
from typing import Any

import redis.asyncio as redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from server.base.metrics import Metrics
from server.base.settings import Settings
from server.transport.hub import LocalTopics, Peer
from server.transport.outgoing import Outgoing
from server.transport.subscriber import Subscriber

log = logging.getLogger("tracker.bus")

CLUSTER = "cluster"
PUBLISH_BATCH = 500
RETRY_FIRST_S = 0.1
READ_POLL_S = 1.0  # the reader wakes at least this often to notice a silent connection
_SEP = b"\x00"
INTERRUPTED = "live updates between servers were interrupted; reconnect for a fresh snapshot"


class BusDown(ConnectionError):
    pass


class RedisHub:
    clustered = True

    def __init__(
        self, settings: Settings, origin: str | None = None, metrics: Metrics | None = None
    ) -> None:
        self.origin = origin or secrets.token_hex(6)
        self._origin_b = self.origin.encode()
        self._url = settings.bus
        self._prefix = settings.bus_prefix
        self._prefix_b = settings.bus_prefix.encode()
        self._timeout_s = settings.bus_timeout_s
        self._retry_max_s = settings.bus_retry_max_s
        self._cluster = (settings.bus_prefix + CLUSTER).encode()
        self._local = LocalTopics()
        self._outgoing = Outgoing(settings.bus_queue_max_messages)
        self._peer: Peer | None = None
        # Subscription changes for the live connection, in order; dropped while down (a
        # reconnect subscribes to every topic with local subscribers anyway).
        self._ops: deque[tuple[bool, str]] = deque()
        self._ops_wake = asyncio.Event()
        self._unconfirmed: dict[str, int] = {}  # SUBSCRIBEs sent, not yet confirmed
        self._confirmed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_heard = 0.0
        self._metrics = metrics or Metrics()
        self._metrics.bus_connected.set(0)
        self.connected = False  # /readyz and tracker_bus_connected say so
        self.connections = 0  # successful (re)connections, for tests and logs
        self.published = 0
        self.received = 0

    # The Hub interface ---------------------------------------------------------------
    def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        if self._local.add(topic, subscriber):
            self._op(True, topic)

    def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        if self._local.remove(topic, subscriber):
            self._op(False, topic)

    async def ready(self, topic: str) -> None:
        if not self.connected:
            return  # degraded: local publishes only, nothing to wait for
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._timeout_s):
                while self.connected and self._unconfirmed.get(topic, 0) > 0:
                    self._confirmed.clear()
                    await self._confirmed.wait()

    def publish(self, topic: str, data: bytes, key: str | None = None) -> None:
        self._local.offer(topic, data, key)
        if not self.connected:
            return
        channel = self._prefix_b + topic.encode()
        frame = self._origin_b + _SEP + (key.encode() if key else b"") + _SEP + data
        self._outgoing.put(channel, frame, None if key is None else (channel, key))

    def broadcast(self, data: bytes, key: str | None = None) -> None:
        if not self.connected:
            return
        frame = self._origin_b + _SEP + _SEP + data
        self._outgoing.put(self._cluster, frame, None if key is None else (self._cluster, key))

    def attach(self, peer: Peer) -> None:
        self._peer = peer

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="bus")

    def subscribers(self, topic: str) -> tuple[Subscriber, ...]:
        return self._local.subscribers(topic)

    @property
    def dropped(self) -> int:
        """Messages the outgoing queue had to drop (full)."""
        return self._outgoing.dropped

    @property
    def queued(self) -> int:
        return len(self._outgoing)

    async def close(self) -> None:
        """Send what is waiting (bounded by the bus timeout), then disconnect."""
        if self.connected:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._timeout_s):
                    await self._outgoing.empty()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._local.close()

    # Connections -----------------------------------------------------------------------
    def _op(self, subscribe: bool, topic: str) -> None:
        if self.connected:
            if subscribe:  # ready() waits for its confirmation from now on
                self._unconfirmed[topic] = self._unconfirmed.get(topic, 0) + 1
            self._ops.append((subscribe, topic))
            self._ops_wake.set()

    async def _supervise(self) -> None:
        delay_s = RETRY_FIRST_S
        failing = False  # log once per outage, not once per attempt
        while True:
            connections = self.connections
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.connections > connections or not failing:
                    log.warning("bus (Redis at TRACKER_BUS) unavailable, retrying: %r", exc)
            finally:
                self.connected = False
                self._metrics.bus_connected.set(0)
                self._unconfirmed.clear()
                self._confirmed.set()
                self._ops.clear()
                self._outgoing.clear()
            failing = True
            if self.connections > connections:  # it had worked: retry quickly
                delay_s = RETRY_FIRST_S
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, self._retry_max_s)

    async def _session(self) -> None:
        """One connection's life: subscribe, then read, write and ping until it fails."""
        client = redis.Redis.from_url(
            self._url,
            socket_connect_timeout=self._timeout_s,
            socket_timeout=self._timeout_s,
            retry=Retry(NoBackoff(), 0),
            protocol=2,
        )
        pubsub = client.pubsub()
        try:
            async with asyncio.timeout(self._timeout_s):
                await client.ping()
                # From here on, local (un)subscriptions queue up for _apply_ops.
                self.connected = True
                topics = self._local.topics()
                self._unconfirmed = dict.fromkeys(topics, 1)
                self._unconfirmed[CLUSTER] = 1
                await pubsub.subscribe(self._cluster, *(self._prefix + t for t in topics))
            self.connections += 1
            self._metrics.bus_connected.set(1)
            if self.connections > 1:
                self._metrics.bus_reconnects.inc()
            log.info("bus connected (%s), %d channels", self.origin, len(topics) + 1)
            interrupted = self._local.interrupt(INTERRUPTED)
            if interrupted:
                log.info("bus back: %d watching sockets told to resynchronise", interrupted)
            await _first_failure(
                self._read(pubsub),
                self._write(client),
                self._apply_ops(pubsub),
                self._keepalive(pubsub),
            )
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._timeout_s):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._timeout_s):
                    await client.aclose()

    async def _read(self, pubsub: PubSub) -> None:
        self._last_heard = asyncio.get_running_loop().time()
        prefix_len = len(self._prefix_b)
        while True:
            message: dict[str, Any] | None = await pubsub.get_message(timeout=READ_POLL_S)
            if message is None:
                continue
            self._last_heard = asyncio.get_running_loop().time()
            kind = message["type"]
            if kind == "message":
                self._deliver(message["channel"], message["data"], prefix_len)
            elif kind == "subscribe":
                topic = message["channel"][prefix_len:].decode()
                left = self._unconfirmed.get(topic, 0) - 1
                if left > 0:
                    self._unconfirmed[topic] = left
                else:
                    self._unconfirmed.pop(topic, None)
                self._confirmed.set()
                if topic == CLUSTER and self._peer is not None:
                    self._peer.on_bus_connected(self.connections == 1)

    def _deliver(self, channel: bytes, frame: bytes, prefix_len: int) -> None:
        origin_end = frame.find(_SEP)
        key_end = frame.find(_SEP, origin_end + 1)
        if origin_end < 0 or key_end < 0:
            return  # not ours
        if frame[:origin_end] == self._origin_b:
            return  # our own: local subscribers already have it
        self.received += 1
        data = frame[key_end + 1 :]
        peer = self._peer
        if channel == self._cluster:
            if peer is not None:
                try:
                    peer.on_cluster_message(data)
                except Exception:  # one bad message must not cut the bus
                    log.exception("cluster message not applied")
            return
        topic = channel[prefix_len:].decode()
        key = frame[origin_end + 1 : key_end].decode() or None
        if peer is None or peer.admits(topic, key):
            self._local.offer(topic, data, key)

    async def _write(self, client: redis.Redis) -> None:
        outgoing = self._outgoing
        while True:
            batch = await outgoing.take(PUBLISH_BATCH)
            async with asyncio.timeout(self._timeout_s):
                async with client.pipeline(transaction=False) as pipe:
                    for channel, frame in batch:
                        pipe.publish(channel, frame)
                    await pipe.execute()
            self.published += len(batch)

    async def _apply_ops(self, pubsub: PubSub) -> None:
        while True:
            while not self._ops:
                self._ops_wake.clear()
                await self._ops_wake.wait()
            subscribe, topic = self._ops.popleft()
            channel = self._prefix + topic
            async with asyncio.timeout(self._timeout_s):
                if subscribe:
                    await pubsub.subscribe(channel)
                else:
                    await pubsub.unsubscribe(channel)

    async def _keepalive(self, pubsub: PubSub) -> None:
        """A connection that went silent (no reset, no data) is found by its pings."""
        interval_s = max(self._timeout_s, 0.5)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval_s)
            async with asyncio.timeout(self._timeout_s):
                await pubsub.ping()
            if loop.time() - self._last_heard > 2 * interval_s + READ_POLL_S:
                raise BusDown("no answer from Redis to pings")


async def _first_failure(*work: Awaitable[None]) -> None:
    """Run until one of `work` ends (they run forever unless they fail); cancel the rest."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
        raise BusDown("a bus task ended")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
