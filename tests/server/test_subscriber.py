"""The bounded, conflating subscriber queue and the in-process hub."""

from __future__ import annotations

import asyncio

from server.transport.hub import MemoryHub
from server.transport.subscriber import Subscriber


async def test_positions_conflate_to_the_newest_and_status_is_kept() -> None:
    sub = Subscriber(max_pending=10)
    sub.offer(b"p1", key="position")
    sub.offer(b"s1")
    sub.offer(b"p2", key="position")
    sub.offer(b"s2")
    sub.offer(b"p3", key="position")
    assert await sub.take() == [b"s1", b"s2", b"p3"]


async def test_too_many_pending_events_close_the_subscriber() -> None:
    sub = Subscriber(max_pending=3)
    for i in range(3):
        sub.offer(f"s{i}".encode())
    assert not sub.closed
    sub.offer(b"s3")
    assert sub.overflowed and sub.closed
    assert await sub.take() == []
    sub.offer(b"late")  # ignored once closed
    assert sub.depth == 0


async def test_take_waits_for_something() -> None:
    sub = Subscriber(max_pending=3)
    waiting = asyncio.create_task(sub.take())
    await asyncio.sleep(0)
    assert not waiting.done()
    sub.offer(b"hello")
    assert await asyncio.wait_for(waiting, 5) == [b"hello"]


async def test_hub_publishes_to_its_topic_only() -> None:
    hub = MemoryHub()
    a, b = Subscriber(10), Subscriber(10)
    hub.subscribe("order:1", a)
    hub.subscribe("order:2", b)
    hub.publish("order:1", b"x", key="position")
    assert (a.depth, b.depth) == (1, 0)
    hub.unsubscribe("order:1", a)
    hub.publish("order:1", b"y")
    assert a.depth == 1 and hub.subscribers("order:1") == ()
    await hub.close()
    assert b.closed
