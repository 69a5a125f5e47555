"""Waiting for the commit of an HTTP request's fixes: the shared coarse deadlines
(server/base/coarse_deadlines.py) and store_and_wait's two lanes (queued at once, with a
shared deadline; or waiting for the driver's state or the writer's room, with its own).

The pipeline here is a stand-in that plays the writer's part (acks, or never): what is
tested is the waiting, not storage (tests/server/test_group_commit.py and
test_phone_apps.py store for real)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from geo.model import Fix
from server.base.coarse_deadlines import CoarseDeadlines
from server.edges.commit_wait import store_and_wait
from server.store.queries import Driver
from server.store.writer import StoreSink
from server.usecases.ingest import Pipeline
from server.wire.courier import Rejected
from tests.server.courier import now

HANG_GUARD_S = 30.0  # not a timing bound: only stops a broken wait from hanging the run


class Waiter:
    def __init__(self) -> None:
        self.expired = asyncio.Event()

    def expire(self) -> None:
        assert not self.expired.is_set(), "expired twice"
        self.expired.set()


async def test_a_deadline_expires_its_waiter_and_not_a_discarded_one() -> None:
    deadlines = CoarseDeadlines(grain_s=0.05)
    kept, discarded = Waiter(), Waiter()
    deadlines.add(kept, 0.1)
    deadlines.discard(discarded, deadlines.add(discarded, 0.1))  # the same grain's timer
    assert deadlines.pending() == 1
    await asyncio.wait_for(kept.expired.wait(), HANG_GUARD_S)
    assert not discarded.expired.is_set()
    assert deadlines.pending() == 0


class StandIn:
    """Pipeline.ingest_now/ingest as store_and_wait uses them; `ack`: whether the
    writer's part answers (at once, as after a commit) or never (storage behind)."""

    def __init__(self, *, ack: bool, room: bool = True) -> None:
        self.ack, self.room = ack, room
        self.lanes: list[str] = []

    def _queue(self, fixes: Sequence[tuple[int, Fix]], sink: StoreSink) -> list[Rejected]:
        rejected = [Rejected(seq, "stand-in rule") for seq, _ in fixes if seq % 2]
        if self.ack:
            asyncio.get_running_loop().call_soon(
                sink.stored, [seq for seq, _ in fixes if seq % 2 == 0]
            )
        return rejected

    def ingest_now(self, driver: Driver, fixes: Any, sink: StoreSink, *_: Any) -> Any:
        if not self.room:
            return None  # would wait: store_and_wait takes the other lane
        self.lanes.append("now")
        return self._queue(fixes, sink)

    async def ingest(self, driver: Driver, fixes: Any, sink: StoreSink, *_: Any) -> Any:
        self.lanes.append("waited")
        return self._queue(fixes, sink)


def _fixes(n: int) -> list[tuple[int, Fix]]:
    return [(i, Fix(recorded_at=now(), lon=-8.61, lat=41.15)) for i in range(n)]


DRIVER = cast(Driver, object())


async def test_queued_at_once_then_answered_after_the_ack() -> None:
    stand_in = StandIn(ack=True)
    outcome = await store_and_wait(cast(Pipeline, stand_in), DRIVER, _fixes(4), timeout_s=10)
    assert (outcome.acked, outcome.timed_out, stand_in.lanes) == ([0, 2], False, ["now"])
    assert [r.seq for r in outcome.rejected] == [1, 3]


async def test_queued_at_once_and_never_stored_times_out() -> None:
    stand_in = StandIn(ack=False)
    outcome = await asyncio.wait_for(
        store_and_wait(cast(Pipeline, stand_in), DRIVER, _fixes(2), timeout_s=0.2), HANG_GUARD_S
    )
    assert (outcome.acked, outcome.timed_out, stand_in.lanes) == ([], True, ["now"])


async def test_all_rejected_answers_without_waiting_for_a_deadline() -> None:
    stand_in = StandIn(ack=False)
    only_odd = [(1, Fix(recorded_at=now(), lon=-8.61, lat=41.15))]
    outcome = await store_and_wait(cast(Pipeline, stand_in), DRIVER, only_odd, timeout_s=3600)
    assert (outcome.acked, outcome.timed_out, [r.seq for r in outcome.rejected]) == ([], False, [1])


async def test_without_room_it_waits_in_the_other_lane_with_its_own_deadline() -> None:
    stored = StandIn(ack=True, room=False)
    outcome = await store_and_wait(cast(Pipeline, stored), DRIVER, _fixes(2), timeout_s=10)
    assert (outcome.acked, outcome.timed_out, stored.lanes) == ([0], False, ["waited"])
    behind = StandIn(ack=False, room=False)
    outcome = await asyncio.wait_for(
        store_and_wait(cast(Pipeline, behind), DRIVER, _fixes(2), timeout_s=0.2), HANG_GUARD_S
    )
    assert (outcome.acked, outcome.timed_out, behind.lanes) == ([], True, ["waited"])
