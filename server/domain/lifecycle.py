"""The order lifecycle: the one place that says which status may follow which.

Main line: confirmed -> processing -> packed -> shipped -> out_for_delivery -> delivered.
A courier at the door may say so first (`arrived`, still out for delivery as far as the
customer and the run are concerned) before delivering or failing.
Shops often skip preparation steps, so before dispatch an order may jump forward along the
main line (confirmed -> shipped is fine); delivered needs out_for_delivery. Off the main
line: cancelled (before it ships), failed (a delivery attempt that did not work; another
attempt may follow: out for delivery again, or back to shipped for dispatch to plan, which
is what a customer's reattempt asks for), returned (sent back, after failure or after
delivery).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    CONFIRMED = "confirmed"
    PROCESSING = "processing"
    PACKED = "packed"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    ARRIVED = "arrived"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETURNED = "returned"


S = Status

NEXT: dict[Status, tuple[Status, ...]] = {
    S.CONFIRMED: (S.PROCESSING, S.PACKED, S.SHIPPED, S.OUT_FOR_DELIVERY, S.CANCELLED),
    S.PROCESSING: (S.PACKED, S.SHIPPED, S.OUT_FOR_DELIVERY, S.CANCELLED),
    S.PACKED: (S.SHIPPED, S.OUT_FOR_DELIVERY, S.CANCELLED),
    S.SHIPPED: (S.OUT_FOR_DELIVERY, S.FAILED, S.RETURNED),
    S.OUT_FOR_DELIVERY: (S.ARRIVED, S.DELIVERED, S.FAILED),
    S.ARRIVED: (S.DELIVERED, S.FAILED),
    S.FAILED: (S.OUT_FOR_DELIVERY, S.SHIPPED, S.RETURNED),
    S.DELIVERED: (S.RETURNED,),
    S.CANCELLED: (),
    S.RETURNED: (),
}

# Statuses after which the customer's link starts to expire.
CLOSED = frozenset({S.DELIVERED, S.CANCELLED, S.RETURNED})
# Statuses that take an order off its driver's run (a failed attempt frees the stop; a new
# attempt puts the order back at the end of the run).
OFF_RUN = CLOSED | {S.FAILED}
# failed -> shipped: a new attempt to be planned. The order leaves its run (as OFF_RUN
# does) until a dispatcher assigns it again: the courier of the failed attempt may be done
# for the day, and a stop must not reappear on a run nobody planned.
REPLAN = (S.FAILED, S.SHIPPED)
# Statuses in which the customer may still change their delivery instructions.
INSTRUCTIONS_OPEN = frozenset({S.CONFIRMED, S.PROCESSING, S.PACKED, S.SHIPPED})
# The statuses in which a customer may see the courier: on the way, and at the door.
COURIER_VISIBLE = frozenset({S.OUT_FOR_DELIVERY, S.ARRIVED})
# What a courier may set on an order of their own run (a driver token); the rest is
# dispatch's.
COURIER_SETS = frozenset({S.ARRIVED, S.DELIVERED, S.FAILED})


class IllegalTransition(ValueError):
    def __init__(self, current: Status, wanted: str) -> None:
        self.current = current
        self.allowed = [s.value for s in NEXT[current]]
        allowed = ", ".join(self.allowed) or "none (final status)"
        super().__init__(f"cannot go from {current.value} to {wanted}; allowed: {allowed}")


def parse_status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        names = ", ".join(s.value for s in Status)
        raise ValueError(f"unknown status {value!r}; statuses are: {names}") from None


def transition(current: Status, wanted: Status) -> Status:
    """The new status, or IllegalTransition naming the allowed ones.

    >>> transition(Status.CONFIRMED, Status.SHIPPED)
    <Status.SHIPPED: 'shipped'>
    >>> transition(Status.DELIVERED, Status.PACKED)
    Traceback (most recent call last):
    ...
    server.domain.lifecycle.IllegalTransition: cannot go from delivered to packed; allowed: returned
    """
    if wanted not in NEXT[current]:
        raise IllegalTransition(current, wanted.value)
    return wanted
