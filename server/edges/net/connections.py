"""Open connections, counted in total and per client address, and the limits on them.

Each open connection holds a descriptor and some memory whatever it sends; without a bound,
one client (or a crowd of half-open ones) can take them all. The address is the socket's
peer, never a forwarded header: behind a reverse proxy every connection comes from the
proxy, and the per-address limit then bounds the proxy. An address has an entry only while
it has a connection open, so the table is bounded by the total limit. The HTTP protocol
(server/edges/net/http_protocol.py) asks here before it reads a byte. (uvicorn's `limit_concurrency`
is not per address, and answers only once a request's head is complete: a client that
never completes one is never refused.)
"""

from __future__ import annotations

import resource
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from server.base.settings import Settings

# Descriptors kept for everything that is not a client: the database pool, Redis, files,
# the listening socket. A connection refused with a clear answer beats an accept() failing
# with EMFILE, which the client sees as a hang.
RESERVED_DESCRIPTORS = 256

TOO_MANY_TOTAL = "too many connections to this server; retry later"
TOO_MANY_FROM_ADDRESS = "too many connections from this address; close some and retry"


class Admission:
    """One admitted connection; `release` it once when it closes (again does nothing)."""

    __slots__ = ("_address", "_connections")

    def __init__(self, connections: Connections, address: str) -> None:
        self._connections: Connections | None = connections
        self._address = address

    def release(self) -> None:
        connections, self._connections = self._connections, None
        if connections is not None:
            connections._release(self._address)


class Connections(Collector):
    """The registry one server's protocols share (uvicorn makes them; they reach it
    through the config), and a Prometheus collector of its counts."""

    def __init__(self, max_total: int, max_per_address: int, header_timeout_s: float) -> None:
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.header_timeout_s = header_timeout_s
        self.open = 0
        self._open_by_address: dict[str, int] = {}
        self.refused_total = 0
        self.refused_per_address = 0
        self.header_timeouts = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Connections:
        max_total = settings.max_connections or descriptor_budget()
        return cls(max_total, settings.max_connections_per_address, settings.header_timeout_s)

    def refusal(self, address: str) -> str | None:
        """Why a new connection from `address` is refused now (counted), or None."""
        if self.open >= self.max_total:
            self.refused_total += 1
            return TOO_MANY_TOTAL
        if self._open_by_address.get(address, 0) >= self.max_per_address:
            self.refused_per_address += 1
            return TOO_MANY_FROM_ADDRESS
        return None

    def admit(self, address: str) -> Admission:
        self.open += 1
        self._open_by_address[address] = self._open_by_address.get(address, 0) + 1
        return Admission(self, address)

    def _release(self, address: str) -> None:
        self.open -= 1
        left = self._open_by_address[address] - 1
        if left:
            self._open_by_address[address] = left
        else:
            del self._open_by_address[address]

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("tracker_connections_open", "Open client connections", self.open)
        refused = CounterMetricFamily(
            "tracker_connections_refused",
            "Connections refused at once with 503, by the limit they hit",
            labels=["limit"],
        )
        refused.add_metric(["total"], self.refused_total)
        refused.add_metric(["per_address"], self.refused_per_address)
        yield refused
        yield CounterMetricFamily(
            "tracker_connections_header_timeouts",
            "Connections closed because a request head was not complete in time",
            self.header_timeouts,
        )


def descriptor_budget() -> int:
    """Connections this process can hold: its open-file limit less what it needs besides."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1_000_000
    return max(1, soft - RESERVED_DESCRIPTORS)
