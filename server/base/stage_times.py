"""Where a fix's server time goes: seconds spent in each stage of the courier pipeline,
summed, exposed as `tracker_fix_stage_seconds_total{stage}`.

Plain floats on the hot path (a prometheus Counter takes a lock per increment, which would
cost more than some stages); read at each scrape. `tracker bench` divides their growth
over a step by the fixes received in it: microseconds per fix by stage.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

# In pipeline order (server/usecases/ingest.py); the index is the stage's slot.
STAGES = ("decode", "validate", "track", "publish", "notify", "ack")
DECODE, VALIDATE, TRACK, PUBLISH, NOTIFY, ACK = range(len(STAGES))


class StageTimes(Collector):
    """`seconds[stage]` grows by what each stage took (time.perf_counter differences)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = [0.0] * len(STAGES)
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "tracker_fix_stage_seconds",
            "Event-loop time spent per courier-pipeline stage (decode, validate, track, "
            "publish, notify, ack), summed over all fixes",
            labels=["stage"],
        )
        for stage, seconds in zip(STAGES, self.seconds, strict=True):
            family.add_metric([stage], seconds)
        yield family
