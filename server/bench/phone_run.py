"""`tracker bench`'s phone-app scenario: N devices (OwnTracks and OsmAnd, one keep-alive
connection and one request in flight each: server/bench/phones.py) against one server
process, at open-loop rate steps. Every fix answered 200 is looked up in the database
after its step: `stored` counts those found, not those answered.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import psutil

from server.bench import stages
from server.bench.report import PHONE_HEADER, PhoneStep, phone_row
from server.bench.spawn import worker
from server.bench.target import Fleet, rss_mib, seed, start_server, verify
from server.bench.worker import percentiles

if TYPE_CHECKING:
    from server.bench.run import Profile

WARMUP_S = 3.0  # per step, before latencies count (connections open, trackers are built)
START_DELAY_S = 1.0  # for the workers to start and connect before the first fix is due
SATURATED_P99_MS = 2000.0


def devices(fleet: Fleet, indices: list[int]) -> list[dict[str, Any]]:
    return [
        {
            "device_id": fleet.device_id(i),
            "token": fleet.tokens[i],
            "driver_id": fleet.driver_ids[i],
            "start": fleet.starts[i],
            "owntracks": i % 2 == 0,
        }
        for i in indices
    ]


async def phone_step(
    database_url: str,
    admin_token: str,
    url: str,
    proc: psutil.Process,
    fleet: Fleet,
    rate: int,
    profile: Profile,
    t0: float,
) -> PhoneStep:
    n = profile.phones
    step = PhoneStep(rate_per_s=rate, phones=n)
    start_at = time.time() + START_DELAY_S
    measure_from = start_at + WARMUP_S
    end_at = measure_from + profile.step_seconds
    shares = [list(range(p, n, profile.load_processes)) for p in range(profile.load_processes)]
    stages_before = await stages.sample([url], admin_token)
    cpu_before = proc.cpu_times()
    wall_before = time.perf_counter()
    spec = {"url": url, "rate_hz": rate / n, "t0": t0, "start_at": start_at,
            "measure_from": measure_from, "end_at": end_at}  # fmt: skip
    load = [await worker("phones", {**spec, "devices": devices(fleet, s)}) for s in shares if s]
    results = [await w.result() for w in load]
    cpu_after = proc.cpu_times()
    wall_s = time.perf_counter() - wall_before
    used_s = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    stages_after = await stages.sample([url], admin_token)
    step.stage_us = stages.per_fix_us(stages_before, stages_after, used_s)
    step.server_rss_mib = round(rss_mib(proc), 1)
    step.server_cpu_pct = round(100 * used_s / wall_s, 1)
    duration_s = end_at - start_at
    last_answer_at = max([r["last_answer_at"] for r in results if r["last_answer_at"]] or [end_at])
    step.due = due = sum(r["due"] for r in results)
    step.offered_per_s = round(due / duration_s, 1)
    step.sent = sum(r["sent"] for r in results)
    step.ok = sum(r["ok"] for r in results)
    step.rejected = sum(r["rejected"] for r in results)
    step.errors = sum(r["errors"] for r in results) + due - step.sent
    for r in results:
        for kind, count in r["error_kinds"].items():
            step.error_kinds[kind] = step.error_kinds.get(kind, 0) + count
    if due > step.sent:
        step.error_kinds["unsent"] = due - step.sent
    ok_times: dict[int, list[int]] = {}
    for r in results:
        for driver, times in r["ok_times"].items():
            ok_times.setdefault(int(driver), []).extend(times)
    step.stored = step.ok - await verify(database_url, {d: set(t) for d, t in ok_times.items()})
    step.stored_per_s = round(step.stored / max(duration_s, last_answer_at - start_at), 1)
    step.latency_ms = percentiles([v for r in results for v in r["latencies_ms"]])
    return step


def saturated(step: PhoneStep) -> bool:
    """The server no longer keeps up: fixes due go unstored, or answers lag by seconds."""
    late = (step.latency_ms.get("p99") or 0.0) > SATURATED_P99_MS
    return step.stored < 0.99 * step.due or late


async def phone_ramp(profile: Profile, database_url: str, admin_token: str) -> dict[str, Any]:
    fleet = await seed(database_url, profile.phones)
    server, url = await start_server(database_url, admin_token)
    proc = psutil.Process(server.pid)
    print(f"-- phone apps over HTTP, 1 server process\n{PHONE_HEADER}", file=sys.stderr, flush=True)
    steps: list[PhoneStep] = []
    t0 = time.time()
    try:
        for rate in profile.phone_rates:
            step = await phone_step(database_url, admin_token, url, proc, fleet, rate, profile, t0)
            steps.append(step)
            print(f"{phone_row(step)}\n{stages.line(step.stage_us)}", file=sys.stderr, flush=True)
            if saturated(step):
                break
    finally:
        server.terminate()
        await server.wait()
    good = [s for s in steps if not saturated(s) and _p99(s) <= profile.phone_latency_bound_ms]
    best = max(good, key=lambda s: s.stored_per_s, default=None)
    return {
        "phones": profile.phones,
        "steps": [asdict(s) for s in steps],
        "answered_fixes_checked": sum(s.ok for s in steps),
        "missing_answered_fixes": sum(s.ok - s.stored for s in steps),
        "sustained": best and {"rate_per_s": best.rate_per_s, "stored_per_s": best.stored_per_s},
    }


def _p99(step: PhoneStep) -> float:
    return float(step.latency_ms.get("p99") or float("inf"))
