"""Microseconds of server time per fix, by pipeline stage: the servers'
`tracker_fix_stage_seconds_total` (server/base/stage_times.py) and write-batch figures read
from /metrics before and after a step, divided by the fixes received in it.

`cpu` is the servers' whole CPU time per fix (psutil). Besides the pipeline's stages the
servers time a courier socket's reads and framing (`frames`), the batch writer's own loop
time (`writer`) and the collector (`gc`); `rest` is what none accounts for: the event loop,
timers, the HTTP requests' handling (all of the phone apps' but their decoding and
pipeline), periodic jobs. Stages are wall time: on a loaded machine they can add up to more
than `cpu` (a negative `rest`).
`write` is the database write's wall time per stored row, off the event loop's CPU.
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from server.base.stage_times import STAGES

Sample = dict[str, float]


async def sample(urls: list[str], admin_token: str) -> Sample:
    """The counters that matter, summed over the servers."""
    totals: Sample = {}
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        for url in urls:
            response = await client.get(f"{url}/metrics")
            response.raise_for_status()
            for family in text_string_to_metric_families(response.text):
                for s in family.samples:
                    key = _key(s.name, s.labels)
                    if key is not None:
                        totals[key] = totals.get(key, 0.0) + s.value
    return totals


def _key(name: str, labels: dict[str, str]) -> str | None:
    if name == "tracker_fix_stage_seconds_total":
        return labels["stage"]
    return {
        "tracker_fixes_received_total": "fixes",
        "tracker_write_batch_seconds_sum": "write_s",
        "tracker_write_batch_rows_sum": "write_rows",
    }.get(name)


def per_fix_us(before: Sample, after: Sample, cpu_s: float) -> dict[str, float]:
    def grew(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    fixes = grew("fixes")
    if fixes <= 0:
        return {}
    us = {stage: round(grew(stage) / fixes * 1e6, 1) for stage in STAGES}
    us["cpu"] = round(cpu_s / fixes * 1e6, 1)
    us["rest"] = round(us["cpu"] - sum(us[stage] for stage in STAGES), 1)
    rows = grew("write_rows")
    us["write"] = round(grew("write_s") / rows * 1e6, 1) if rows > 0 else 0.0
    return us


def line(us: dict[str, float]) -> str:
    """One line for the table under a step's row."""
    if not us:
        return "         µs per fix: -"
    parts = ", ".join(f"{key} {us[key]:.1f}" for key in (*STAGES, "rest"))
    write = f"write (wall, per row) {us['write']:.1f}"
    return f"         µs per fix: cpu {us['cpu']:.1f} = {parts}; {write}"
