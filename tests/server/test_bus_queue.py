"""The bus's outgoing queue: bounded, conflating, oldest positions dropped first."""

from __future__ import annotations

from server.transport.outgoing import Outgoing


def test_a_newer_position_replaces_the_waiting_one_and_goes_to_the_back() -> None:
    queue = Outgoing(10)
    queue.put(b"order:1", b"p1", (b"order:1", "position"))
    queue.put(b"order:1", b"s1")
    queue.put(b"order:1", b"p2", (b"order:1", "position"))
    assert queue.take_nowait(10) == [(b"order:1", b"s1"), (b"order:1", b"p2")]


def test_when_full_the_oldest_position_goes_first_and_statuses_stay() -> None:
    queue = Outgoing(3)
    queue.put(b"order:1", b"s1")
    queue.put(b"order:1", b"p1", (b"order:1", "position"))
    queue.put(b"order:2", b"p2", (b"order:2", "position"))
    queue.put(b"order:1", b"s2")
    assert queue.dropped == 1
    assert [payload for _, payload in queue.take_nowait(10)] == [b"s1", b"p2", b"s2"]


def test_only_statuses_left_then_the_oldest_is_dropped() -> None:
    queue = Outgoing(2)
    for payload in (b"s1", b"s2", b"s3"):
        queue.put(b"order:1", payload)
    assert [payload for _, payload in queue.take_nowait(10)] == [b"s2", b"s3"]
