"""Per-client token buckets, bounded in memory (least recently seen clients are forgotten)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        per_minute: float,
        burst: int,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate_per_s = per_minute / 60.0
        self._burst = float(burst)
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def retry_after_s(self, client: str) -> float:
        """0 when `client` may go ahead (and takes a token), else seconds until it may."""
        now = self._clock()
        tokens, at = self._buckets.pop(client, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate_per_s)
        wait_s = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait_s = (1.0 - tokens) / self._rate_per_s
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        return wait_s

    def refund(self, client: str) -> None:
        """Give back the token the last go-ahead took: that attempt does not count."""
        found = self._buckets.get(client)
        if found is not None:
            tokens, at = found
            self._buckets[client] = (min(self._burst, tokens + 1.0), at)
