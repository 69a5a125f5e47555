"""Where a fix's server time goes: seconds spent in each stage of the courier pipeline,
summed, exposed as `tracker_fix_stage_seconds_total{stage}`.

Plain floats on the hot path (a prometheus Counter takes a lock per increment, which would
cost more than some stages); read at each scrape. `tracker bench` divides their growth
over a step by the fixes received in it: microseconds per fix by stage.

The pipeline's stages (`decode` to `ack`) are timed where they run. The rest of what a fix
costs the event loop is timed too, so that little goes unexplained:
- `frames`: a courier socket's reads and WebSocket framing, the time in the protocol's
  `data_received` less the message callback's (server/edges/net/ws_direct.py);
- `writer`: the batch writer's own time on the loop (building and encoding the COPY, the
  driver's protocol work, the bookkeeping after a commit), each step of its task timed by
  `timed` (less the stages timed inside it: the acks it sends are `ack`);
- `gc`: the cyclic collector's passes (`gc.callbacks`), whatever triggered them (a pass
  inside a timed stage counts in both; passes are short, server/base/gc_freeze.py).
What is left (`rest` in the bench) is the event loop itself, timers, system calls outside
these, HTTP handling (the phone apps' requests) and the periodic jobs.
Times are wall-clock (perf_counter): on a loaded machine a stage also counts the time the
process was descheduled in it, and the stages can add up to more than the CPU used.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Coroutine, Generator, Iterator
from time import perf_counter
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

# In pipeline order (server/usecases/ingest.py), then the rest; the index is the slot.
STAGES = ("decode", "validate", "track", "publish", "notify", "ack", "frames", "writer", "gc")
DECODE, VALIDATE, TRACK, PUBLISH, NOTIFY, ACK, FRAMES, WRITER, GC = range(len(STAGES))

T = TypeVar("T")


class StageTimes(Collector):
    """`seconds[stage]` grows by what each stage took (time.perf_counter differences)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = [0.0] * len(STAGES)
        self._gc_started = 0.0
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "tracker_fix_stage_seconds",
            "Event-loop time spent per stage of the fix path (decode, validate, track, "
            "publish, notify, ack; frames, writer, gc), summed over all fixes",
            labels=["stage"],
        )
        for stage, seconds in zip(STAGES, self.seconds, strict=True):
            family.add_metric([stage], seconds)
        yield family

    def watch_gc(self) -> Callable[[], None]:
        """Count the collector's passes as `gc` until the returned function is called."""
        gc.callbacks.append(self._on_gc)
        return lambda: gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = perf_counter()
        elif self._gc_started:
            self.seconds[GC] += perf_counter() - self._gc_started
            self._gc_started = 0.0

    def timed(self, coro: Coroutine[Any, Any, T], slot: int) -> Coroutine[Any, Any, T]:
        """`coro`, its time on the event loop (each step between awaits) added to `slot`,
        less what the stages timed inside it took."""
        return _timed(coro, self.seconds, slot)


async def _timed(coro: Coroutine[Any, Any, T], spent: list[float], slot: int) -> T:
    result: T = await _Steps(coro, spent, slot)
    return result


class _Steps:
    __slots__ = ("_coro", "_slot", "_spent")

    def __init__(self, coro: Coroutine[Any, Any, T], spent: list[float], slot: int) -> None:
        self._coro, self._spent, self._slot = coro, spent, slot

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, spent, slot = self._coro, self._spent, self._slot
        value: Any = None
        error: BaseException | None = None
        while True:
            inside = sum(spent)
            started = perf_counter()
            try:
                yielded = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as done:
                spent[slot] += perf_counter() - started - (sum(spent) - inside)
                return done.value
            except BaseException:
                spent[slot] += perf_counter() - started - (sum(spent) - inside)
                raise
            spent[slot] += perf_counter() - started - (sum(spent) - inside)
            try:
                value, error = (yield yielded), None
            except BaseException as exc:  # cancellation and the like: into the coroutine
                value, error = None, exc
