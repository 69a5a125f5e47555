"""What live state finds that customers are told about, handed up rather than sent.

Live state never calls a use-case: on the fix path `Live.on_fix` returns these notices and
the ingest pipeline hands them to the notifier; off it (a run rebuilt by an order change or
by another process, a tracker built on the worker thread) Live gives them to its
`Listener`, which app.py wires to the notifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from geo.eta import StopEta
from server.wire.live import EtaView


@dataclass(frozen=True, slots=True)
class FreshEta:
    """A fresh ETA of an order with a promise: the notifier judges whether it is delayed."""

    order_id: int
    due_by: datetime
    eta: StopEta


@dataclass(frozen=True, slots=True)
class Arriving:
    """The courier is about to reach the order's door (geo's ARRIVING event)."""

    order_id: int
    eta: EtaView | None  # the ETA as customers get it (wire.live.eta_view)


Notice = FreshEta | Arriving


class Listener(Protocol):
    """Hears the notices found off the fix path, in the order they were found."""

    def live_notices(self, notices: Sequence[Notice]) -> None: ...
