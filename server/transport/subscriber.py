"""A subscriber's bounded, conflating queue of encoded messages.

Messages with a key (positions: one key per driver) replace the pending one with the
same key, so a slow reader gets the newest position, not a backlog. Keyless messages
(status changes) are never dropped: if more than `max_pending` messages wait, the
subscriber is marked overflowed and its socket closes; the client reconnects and gets a
fresh snapshot. Offering never blocks, so publishers never wait on a slow socket. A
subscriber that may have missed messages for another reason (the bus between processes was
down) is interrupted the same way, with its own reason.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable


class Subscriber:
    """Either await `take()`, or set `on_ready` (called whenever messages or a close
    become pending) and drain with `take_nowait()`: the socket path does the latter, so an
    idle socket needs no waiting task at all."""

    __slots__ = ("_max_pending", "_pending", "_wake", "closed", "on_ready", "overflowed", "reason")

    _unique = itertools.count()

    def __init__(self, max_pending: int) -> None:
        self._max_pending = max_pending
        self._pending: dict[object, bytes] = {}
        self._wake: asyncio.Event | None = None  # made only if someone awaits take()
        self.on_ready: Callable[[], None] | None = None
        self.overflowed = False
        self.closed = False
        self.reason = "too far behind; reconnect for a fresh snapshot"

    def offer(self, data: bytes, key: str | None = None) -> None:
        if self.closed:
            return
        pending = self._pending
        if key is None:
            pending[next(self._unique)] = data
        else:
            pending.pop(key, None)  # re-insert: the newest position goes to the back
            pending[key] = data
        if len(pending) > self._max_pending:
            self.overflowed = True
            self.closed = True
            pending.clear()
        self._signal()

    def _signal(self) -> None:
        if self.on_ready is not None:
            self.on_ready()
        if self._wake is not None:
            self._wake.set()

    def interrupt(self, reason: str) -> None:
        """Close as if overflowed: the socket closes (1013) and its client resynchronises."""
        if not self.closed:
            self.overflowed = True
            self.reason = reason
            self.close()

    def close(self) -> None:
        self.closed = True
        self._pending.clear()
        self._signal()

    async def take(self) -> list[bytes]:
        """Wait for pending messages and take them all, oldest first; [] once closed."""
        while not self._pending and not self.closed:
            if self._wake is None:
                self._wake = asyncio.Event()
            self._wake.clear()
            await self._wake.wait()
        return self.take_nowait()

    def take_nowait(self) -> list[bytes]:
        """Every pending message, oldest first (possibly none)."""
        messages = list(self._pending.values())
        self._pending.clear()
        return messages

    @property
    def depth(self) -> int:
        return len(self._pending)
