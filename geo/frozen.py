"""Frozen dataclasses made at a plain class's cost, for the values made on every fix.

A frozen dataclass's `__init__` sets each field through `object.__setattr__` (its own
`__setattr__` refuses): about three times what a plain class's field stores cost, and the
tracker makes several such values per fix (and one per stop). `maker(cls)` gives a callable
taking the same arguments that builds the same value as an unfrozen twin with the same slots,
then hands it to `cls`: the result *is* a `cls` (equal, hashed, printed, pickled and frozen
as one), only made faster.

>>> from dataclasses import FrozenInstanceError, dataclass
>>> @dataclass(frozen=True, slots=True)
... class Point:
...     x: float
...     y: float = 0.0
>>> make_point = maker(Point)
>>> p = make_point(1.0)
>>> p, type(p) is Point, p == Point(1.0, 0.0), hash(p) == hash(Point(1.0))
(Point(x=1.0, y=0.0), True, True, True)
>>> try:
...     p.x = 2.0
... except FrozenInstanceError:
...     print("frozen")
frozen
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

P = ParamSpec("P")
T = TypeVar("T")


def maker(cls: Callable[P, T]) -> Callable[P, T]:
    """A faster constructor of `cls`, a frozen dataclass with slots and no default factories."""
    frozen = cast(type, cls)
    params = getattr(frozen, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in frozen.__dict__:
        raise TypeError(f"{frozen.__name__} is not a frozen dataclass with slots")
    if hasattr(frozen, "__post_init__") or frozen.__bases__ != (object,):
        raise TypeError(f"{frozen.__name__}: a frozen dataclass of its own, not a subclass")
    fields: list[tuple[str, Any, Any]] = []
    for f in dataclasses.fields(frozen):
        if f.default_factory is not dataclasses.MISSING or not f.init:
            raise TypeError(f"{frozen.__name__}.{f.name}: plain fields only")
        fields.append((f.name, f.type, dataclasses.field(default=f.default)))

    def become_frozen(self: object) -> None:
        self.__class__ = frozen  # same slots, same layout: Python allows the switch

    twin = dataclasses.make_dataclass(
        f"_{frozen.__name__}Maker",
        fields,
        namespace={"__post_init__": become_frozen},
        slots=True,
        repr=False,
        eq=False,
        match_args=False,
    )
    return cast(Callable[P, T], twin)
