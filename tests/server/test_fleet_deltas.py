"""The dispatchers' deltas in slices (Fleet.flush_slices): every changed driver reaches
every dispatcher exactly once per interval however it is sliced, a viewport still hears
once about a driver that left it, and the caller gets a turn between slices."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from geo.model import Fix
from server.live.etas import Etas
from server.live.fleet import Fleet, FleetClient
from server.live.runs import Runs
from server.transport.subscriber import Subscriber

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def fleet_of(drivers: int) -> Fleet:
    runs = Runs(next_stop_only=False)
    fleet = Fleet(runs, Etas(runs, 120.0, 1.3), 1.0, 120.0, clock=lambda: AT)
    for i in range(1, drivers + 1):
        fleet.add_driver(i, f"d{i}", None)
        fleet.position(i, Fix(AT, 11.0 + i * 0.01, 50.0))
    return fleet


def delivered(client: FleetClient) -> list[list[int]]:
    """The driver ids of each delta the client was sent, in order."""
    return [
        [d["id"] for d in msgspec.json.decode(m)["drivers"]]
        for m in client.subscriber.take_nowait()
    ]


def test_every_changed_driver_once_across_slices() -> None:
    fleet = fleet_of(10)
    everyone = FleetClient(Subscriber(100))
    fleet.clients.add(everyone)
    turns = sum(1 for _ in fleet.flush_slices(3))
    deltas = delivered(everyone)
    assert [len(d) for d in deltas] == [3, 3, 3, 1]
    assert sorted(i for d in deltas for i in d) == list(range(1, 11))
    assert turns >= len(deltas)  # a turn for the caller after every slice
    fleet.flush()
    assert delivered(everyone) == []  # nothing changed since


def test_a_viewport_hears_once_about_a_driver_that_left_it() -> None:
    fleet = fleet_of(4)  # at lon 11.01 .. 11.04
    west = FleetClient(Subscriber(100), bbox=(10.9, 49.9, 11.025, 50.1))
    fleet.clients.add(west)
    for _ in fleet.flush_slices(1):
        pass
    assert sorted(i for d in delivered(west) for i in d) == [1, 2]
    fleet.position(2, Fix(AT, 11.5, 50.0))  # driver 2 drives out of view
    fleet.position(3, Fix(AT, 11.6, 50.0))  # driver 3 was never in it
    for _ in fleet.flush_slices(1):
        pass
    assert delivered(west) == [[2]]
    fleet.position(2, Fix(AT, 11.55, 50.0))
    fleet.flush()
    assert delivered(west) == []
