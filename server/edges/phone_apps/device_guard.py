"""Phone-app device look-ups that reveal nothing about which device ids exist.

The OsmAnd protocol has no password: the device id is the secret, so a server that answers
known and unknown ids differently (status, body, headers or time) lets anyone find ids by
trying. An unknown id gets what a known one gets when its fix is stored (200, empty),
after about as long (a wait drawn from what known devices recently waited for their
commit), and nothing is stored. Failed look-ups spend the client address's budget (each
look-up holds a token while in flight; a successful one gives it back); once it is spent,
every phone-app request from that address, known device or not, gets 429 with
`Retry-After` until it refills.
"""

from __future__ import annotations

import random
from collections import deque

from server.base.ratelimit import RateLimiter
from server.base.settings import Settings

RECENT_WAITS = 64  # known devices' answer times kept to draw unknown ones' from


class DeviceGuard:
    def __init__(self, settings: Settings) -> None:
        self._limiter = RateLimiter(
            settings.device_lookup_failures_per_min, settings.device_lookup_failure_burst
        )
        self._waits_s: deque[float] = deque(maxlen=RECENT_WAITS)
        self._default_wait_s = settings.batch_max_wait_ms / 1000.0  # before any was measured

    def retry_after_s(self, client: str) -> float:
        """0 when `client` may look a device up, else the seconds until it may. Going ahead
        takes a token, given back by `found`: one held by each look-up in flight, so that
        concurrent requests cannot all pass before the first failure is counted."""
        return self._limiter.retry_after_s(client)

    def found(self, client: str) -> None:
        """The look-up found the device (and the right password): it does not count."""
        self._limiter.refund(client)

    def answered(self, wait_s: float) -> None:
        """A known device waited this long for its fixes to be committed."""
        self._waits_s.append(wait_s)

    def decoy_wait_s(self) -> float:
        """How long to keep an unknown device waiting: as long as a known one recently did."""
        return random.choice(self._waits_s) if self._waits_s else self._default_wait_s
