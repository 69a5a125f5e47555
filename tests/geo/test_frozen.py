"""geo/frozen.py: what `maker` builds is the frozen dataclass itself, field for field."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

from geo.eta import StopEta
from geo.events import Event, EventKind
from geo.frozen import maker
from geo.line import Hit
from geo.progress import Progress
from geo.tracker import TrackUpdate

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_made_values_are_the_class_s_own() -> None:
    eta = StopEta("7", T0, 61.5, 400.0, (T0, T0), "high")
    progress = Progress(120.0, 3.5, 880.0, True)
    event = Event(EventKind.PASSED, T0, "7")
    update = TrackUpdate(T0, False, progress, (eta,), (event,), stopped_s=4.0)
    made: list[Any] = [
        maker(StopEta)("7", T0, 61.5, 400.0, (T0, T0), "high"),
        maker(Progress)(120.0, 3.5, 880.0, True),
        maker(Event)(EventKind.PASSED, T0, stop_id="7"),
        maker(TrackUpdate)(T0, False, progress, (eta,), (event,), stopped_s=4.0),
        maker(Hit)(1.0, 2.0, 3),
    ]
    expected_values: list[Any] = [eta, progress, event, update, Hit(1.0, 2.0, 3)]
    for value, expected in zip(made, expected_values, strict=True):
        assert type(value) is type(expected)
        assert value == expected and hash(value) == hash(expected)
        assert repr(value) == repr(expected)
        assert pickle.loads(pickle.dumps(value)) == expected
        field = dataclasses.fields(expected)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, None)


def test_refuses_what_it_cannot_make_alike() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        x: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            if self.x < 0:
                raise ValueError("negative")

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        xs: list[int] = dataclasses.field(default_factory=list)

    for cls in (NoSlots, NotFrozen, Checked, Factory):
        with pytest.raises(TypeError):
            maker(cls)
