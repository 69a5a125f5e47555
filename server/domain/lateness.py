"""When an order is late: the one rule (docs/api.md, `GET /api/orders?late=`).

An order is late when it is open (not delivered, cancelled or returned: `SETTLED`), has a
promise (its window's end, else `promised_by`: `due_by`), and that promise has passed
(`due_by < now`) or its ETA lies beyond it (`eta_at > due_by`). Both comparisons are strict:
an order due exactly now, or expected exactly at its promise, is on time. No promise, never
late. A failed attempt is still open, so it can be late; so is an order whose courier has
arrived but not yet delivered.

The fleet view and the order views call `is_late`; the `late=` filter runs in SQL
(server/store/orders.py), with `SETTLED` from here and the ETAs held in memory passed in;
tests/server/test_lateness_sql.py checks that the two agree.

>>> from datetime import UTC, datetime, timedelta
>>> now = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
>>> is_late(now, Status.SHIPPED, None, now)  # due exactly now: not yet late
False
>>> is_late(now - timedelta(seconds=1), Status.DELIVERED, None, now)  # settled: never late
False
>>> is_late(now + timedelta(hours=1), Status.OUT_FOR_DELIVERY, now + timedelta(hours=2), now)
True
"""

from __future__ import annotations

from datetime import datetime

from server.domain.lifecycle import CLOSED, Status

# Statuses in which an order is never late: it has arrived, or never will.
SETTLED = CLOSED
# The only status in which a customer is told of a delay ("running late"): before it the
# order is not on its way yet (a `shipped` order waits for its run), and from `arrived` on
# the courier is at the door. Dispatchers see lateness in every open status.
ANNOUNCED = frozenset({Status.OUT_FOR_DELIVERY})


def due_by(promised_by: datetime | None, window_end: datetime | None) -> datetime | None:
    """The latest time the promise allows: the window's end, else `promised_by`."""
    return window_end or promised_by


def is_late(
    due_by: datetime | None, status: Status, eta_at: datetime | None, now: datetime
) -> bool:
    """Open, with a promise that has passed or that its ETA lies beyond (module docstring)."""
    if due_by is None or status in SETTLED:
        return False
    return due_by < now or (eta_at is not None and eta_at > due_by)


def announces_delay(status: Status) -> bool:
    """Whether a late ETA is told to the customer in this status (`ANNOUNCED`).

    >>> announces_delay(Status.SHIPPED), announces_delay(Status.OUT_FOR_DELIVERY)
    (False, True)
    """
    return status in ANNOUNCED
