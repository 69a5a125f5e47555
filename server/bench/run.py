"""`tracker bench`: start a server (or target one), ramp the load from separate processes,
measure this machine's own ceilings, check every counted fix in the database, report.

A step runs N couriers sending `rate_hz` fixes/s each, one customer watching each courier's
order, and K dispatchers on the fleet socket; the ramp stops once the server saturates
(fewer fixes acked than sent) or a latency bound breaks.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import psutil

from server.bench import stages
from server.bench.ceilings import copy_ceiling, ws_ceiling
from server.bench.machine import Shares
from server.bench.phone_run import phone_ramp
from server.bench.report import HEADER, Step, courier_step, machine_line, row
from server.bench.spawn import worker
from server.bench.target import Fleet, rss_mib, seed, start_server, verify
from server.store import migrate

WARMUP_S = 3.0  # per step, before latencies count
REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Profile:
    steps: list[int]  # couriers per step
    step_seconds: float
    dispatchers: int
    idle_sockets: int
    copy_rows: int
    ws_ceiling_seconds: float
    ws_ceiling_connections: int
    rate_hz: float = 1.0
    latency_bound_ms: float = 50.0
    load_processes: int = 2
    server_processes: tuple[int, ...] = (1,)  # e.g. (1, 2): the ramp again with 2 processes
    scenarios: tuple[str, ...] = ("sockets", "phones")
    phones: int = 50  # phone-app devices over HTTP (server/bench/phone_run.py)
    phone_rates: tuple[int, ...] = (500, 1_000, 2_000, 2_500, 3_000, 4_000)  # fixes/s per step
    phone_latency_bound_ms: float = 100.0


QUICK = Profile([40, 120], 4.0, 1, 300, 50_000, 2.0, 20, phones=10, phone_rates=(50, 150))
FULL = Profile(
    [1_000, 2_500, 5_000, 7_500, 10_000], 20.0, 1, 10_000, 500_000, 5.0, 50, server_processes=(1, 2)
)


async def idle_cost(url: str, proc: psutil.Process, fleet: Fleet, count: int) -> float:
    """Server memory per idle customer socket, in bytes."""
    ws_url = url.replace("http", "ws", 1)
    before: int = proc.memory_info().rss
    idle = await worker("idle", {"url": f"{ws_url}/ws/track/{fleet.codes[0]}", "count": count})
    ready = await idle.line()
    after: int = proc.memory_info().rss
    await idle.finish()
    return (after - before) / max(1, int(ready["open"]))


async def run_step(
    urls: list[str],
    procs: list[psutil.Process],
    fleet: Fleet,
    n: int,
    profile: Profile,
    admin_token: str,
    t0: float,
) -> tuple[Step, dict[int, list[int]]]:
    """Couriers on the first server, customers and dispatchers on the last: with two
    processes every delivery crosses the bus."""
    ws_urls = [u.replace("http", "ws", 1) for u in urls]
    ws_url = ws_urls[-1]
    warmup_s = WARMUP_S
    watchers = await worker("watchers", {
        "ws_url": ws_url, "codes": fleet.codes[:n], "dispatchers": profile.dispatchers,
        "admin_token": admin_token, "seconds": profile.step_seconds,
    })  # fmt: skip
    await watchers.line()  # everyone watching
    # Couriers connect and send their first fixes (trackers are built then): measure after.
    measure_from = time.time() + warmup_s + n / 500
    await watchers.send({"measure_from": measure_from})
    shares = [list(range(p, n, profile.load_processes)) for p in range(profile.load_processes)]
    stages_before = await stages.sample(urls, admin_token)
    cpu_shares = Shares(watchers.process.pid)
    cpu_before = [p.cpu_times() for p in procs]
    wall_before = time.perf_counter()
    couriers = [
        await worker(
            "couriers",
            {
                "ws_url": ws_urls[0],
                "tokens": [fleet.tokens[i] for i in share],
                "starts": [fleet.starts[i] for i in share],
                "driver_ids": [fleet.driver_ids[i] for i in share],
                "rate_hz": profile.rate_hz,
                "t0": t0,
                "measure_from": measure_from,
                "seconds": profile.step_seconds + (measure_from - time.time()),
            },
        )
        for share in shares
        if share
    ]
    results = [await c.result() for c in couriers]
    cpu_after = [p.cpu_times() for p in procs]
    wall = time.perf_counter() - wall_before
    stages_after = await stages.sample(urls, admin_token)
    rss = sum(rss_mib(p) for p in procs)
    load_cpu_pct, database_cpu_pct = cpu_shares.settle(results, wall)
    step = courier_step(n, results, await watchers.finish())
    step.load_cpu_pct, step.database_cpu_pct = load_cpu_pct, database_cpu_pct
    used = sum(
        (a.user - b.user) + (a.system - b.system)
        for a, b in zip(cpu_after, cpu_before, strict=True)
    )
    step.server_cpu_pct = round(100 * used / wall, 1)
    step.stage_us = stages.per_fix_us(stages_before, stages_after, used)
    step.server_rss_mib = round(rss, 1)
    acked_times: dict[int, list[int]] = {}
    for r in results:
        for driver, times in r["acked_times"].items():
            acked_times.setdefault(int(driver), []).extend(times)
    return step, acked_times


async def bench(profile: Profile, database_url: str) -> dict[str, Any]:
    report: dict[str, Any] = {"profile": asdict(profile), "machine": {"cpus": os.cpu_count()}}
    await migrate.prepare(database_url)
    await migrate.upgrade_async(database_url)
    if "phones" in profile.scenarios:
        report["phones"] = await phone_ramp(profile, database_url, secrets.token_urlsafe(24))
    if "sockets" not in profile.scenarios:
        report["missing_acked_fixes"] = report["phones"]["missing_answered_fixes"]
        return report
    copy_rows_per_s = await copy_ceiling(database_url, profile.copy_rows)
    ws_msgs_per_s = await ws_ceiling(profile.ws_ceiling_seconds, profile.ws_ceiling_connections)
    report["ceilings"] = {
        "copy_rows_per_s": round(copy_rows_per_s),
        "bare_websocket_msgs_per_s": round(ws_msgs_per_s),
    }
    report["runs"] = []
    for processes in profile.server_processes:
        report["runs"].append(
            await ramp(profile, database_url, processes, copy_rows_per_s, ws_msgs_per_s)
        )
    report["missing_acked_fixes"] = sum(r["missing_acked_fixes"] for r in report["runs"]) + (
        report["phones"]["missing_answered_fixes"] if "phones" in report else 0
    )
    report["acked_fixes_checked"] = sum(r["acked_fixes_checked"] for r in report["runs"])
    return report


async def ramp(
    profile: Profile,
    database_url: str,
    processes: int,
    copy_rows_per_s: float,
    ws_msgs_per_s: float,
) -> dict[str, Any]:
    """The ramp against `processes` server processes (more than one share a Redis bus)."""
    run: dict[str, Any] = {"server_processes": processes}
    fleet = await seed(database_url, max(profile.steps))
    admin_token = secrets.token_urlsafe(24)
    bus = "memory" if processes == 1 else os.environ.get("BENCH_REDIS_URL", REDIS_URL)
    prefix = f"bench-{secrets.token_hex(4)}:"
    servers = [await start_server(database_url, admin_token, bus, prefix) for _ in range(processes)]
    urls = [url for _, url in servers]
    procs = [psutil.Process(server.pid) for server, _ in servers]
    print(f"-- {processes} server process(es)\n{HEADER}", file=sys.stderr, flush=True)
    try:
        run["idle_bytes_per_socket"] = round(
            await idle_cost(urls[-1], procs[-1], fleet, profile.idle_sockets)
        )
        steps: list[Step] = []
        acked: dict[int, set[int]] = {}
        t0 = time.time()
        for n in profile.steps:
            step, times = await run_step(urls, procs, fleet, n, profile, admin_token, t0)
            steps.append(step)
            for driver, values in times.items():
                acked.setdefault(driver, set()).update(values)
            print(f"{row(step)}\n{stages.line(step.stage_us)}\n{machine_line(step)}",
                  file=sys.stderr, flush=True)  # fmt: skip
            if _overloaded(step):
                break  # the ramp goes on past the latency bound, up to saturation
        run["steps"] = [asdict(s) for s in steps]
        run["missing_acked_fixes"] = await verify(database_url, acked)
        run["acked_fixes_checked"] = sum(len(v) for v in acked.values())
    finally:
        for server, _ in servers:
            server.terminate()
        for server, _ in servers:
            try:
                await asyncio.wait_for(server.wait(), 60)
            except TimeoutError:
                print("a server did not exit on SIGTERM; killed", file=sys.stderr)
                server.kill()
                await server.wait()
    good = [s for s in run["steps"] if _within_bound(Step(**s), profile)]
    best = max(good, key=lambda s: s["persisted_per_s"], default=None)
    overloaded = [s["couriers"] for s in run["steps"] if _overloaded(Step(**s))]
    run["saturated_at_couriers"] = overloaded[0] if overloaded else None
    run["sustained"] = best and {
        "couriers": best["couriers"],
        "persisted_per_s": best["persisted_per_s"],
        "persisted_vs_copy_ceiling": round(best["persisted_per_s"] / copy_rows_per_s, 4),
        "received_vs_bare_websocket": round(best["offered_per_s"] / ws_msgs_per_s, 4),
    }
    return run


def _overloaded(step: Step) -> bool:
    """The server no longer keeps up: fixes go unacked, or acks lag by seconds."""
    return step.acked < 0.99 * step.sent or (step.ack_latency_ms.get("p99") or 0.0) > 2000


def _within_bound(step: Step, profile: Profile) -> bool:
    late = step.customer_latency_ms.get("p99")
    return not _overloaded(step) and late is not None and late <= profile.latency_bound_ms
