"""`tracker bench`: start a server (or target one), ramp the load from separate processes,
measure this machine's own ceilings, check every counted fix in the database, report.

A step runs N couriers sending `rate_hz` fixes/s each, one customer watching each courier's
order, and K dispatchers on the fleet socket; the ramp stops once the server saturates
(fewer fixes acked than sent) or a latency bound breaks.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from server.base.auth import hash_token, new_token
from server.domain.codes import new_code
from server.store import bench as bench_sql
from server.store import codecs, migrate
from server.store.queries import POSITION_COLUMNS

HOF = (11.90, 50.30)
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


QUICK = Profile([40, 120], 4.0, 1, 300, 50_000, 2.0, 20)
FULL = Profile(
    [1_000, 2_500, 5_000, 7_500, 10_000], 20.0, 1, 10_000, 500_000, 5.0, 50, server_processes=(1, 2)
)


@dataclass
class Step:
    couriers: int
    offered_per_s: float = 0.0
    sent: int = 0
    acked: int = 0
    rejected: int = 0
    errors: int = 0
    persisted_per_s: float = 0.0
    ack_latency_ms: dict[str, Any] = field(default_factory=dict)
    customer_latency_ms: dict[str, Any] = field(default_factory=dict)
    deliveries_per_s: float = 0.0
    server_cpu_pct: float = 0.0
    server_rss_mib: float = 0.0
    watchers_closed: int = 0


@dataclass
class Worker:
    """A load-generating process; its final result comes through a file (it can be
    megabytes, and nothing else writing to stdout can split it there)."""

    process: asyncio.subprocess.Process
    result_path: Path

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()

    async def line(self, timeout_s: float = 600) -> dict[str, Any]:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
        if not raw:
            raise RuntimeError("a bench worker died (see its output above)")
        message: dict[str, Any] = json.loads(raw)
        return message

    async def result(self, timeout_s: float = 600) -> dict[str, Any]:
        done = await self.line(timeout_s)
        assert done == {"done": True}, done
        value = await asyncio.to_thread(_read_and_remove, self.result_path)
        await self.process.wait()
        return value

    async def finish(self) -> dict[str, Any]:
        """Close its stdin (the signal to stop), then its result."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return await self.result()


def _read_and_remove(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_text())
    path.unlink()
    return value


async def worker(role: str, spec: dict[str, Any]) -> Worker:
    handle, name = tempfile.mkstemp(prefix=f"bench-{role}-", suffix=".json")
    os.close(handle)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.bench.worker", role,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**20,
    )  # fmt: skip
    started = Worker(process, Path(name))
    await started.send({**spec, "result_path": name})
    return started


# Ceilings ----------------------------------------------------------------------------
async def copy_ceiling(database_url: str, rows: int) -> float:
    """Rows/s asyncpg COPY sustains into a table shaped and indexed like the history."""
    conn = await asyncpg.connect(database_url)
    try:
        await codecs.register(conn)
        await bench_sql.copy_ceiling_table(conn)
        now = datetime.now(UTC)
        records = [
            (i % 1000, datetime.fromtimestamp(now.timestamp() - i, UTC), now, HOF,
             8.0, 10.0, 90.0, None, None, None)
            for i in range(rows)
        ]  # fmt: skip
        started = time.perf_counter()
        for i in range(0, rows, 1000):
            await conn.copy_records_to_table(
                "bench_positions", records=records[i : i + 1000], columns=POSITION_COLUMNS
            )
        return rows / (time.perf_counter() - started)
    finally:
        await conn.close()


async def ws_ceiling(seconds: float, connections: int) -> float:
    """Messages/s a bare `websockets` receive loop takes, from another process."""
    sink = await worker("ws_sink", {})
    port = (await sink.line())["port"]
    blast = await worker(
        "ws_blast",
        {"url": f"ws://127.0.0.1:{port}", "connections": connections, "seconds": seconds},
    )
    sent = await blast.result()
    received = (await sink.finish())["received"]
    return float(min(sent["sent"], received)) / float(sent["seconds"])


# The server under test -------------------------------------------------------------------
@dataclass
class Fleet:
    tokens: list[str]
    codes: list[str]
    driver_ids: list[int]
    starts: list[list[float]]


def _start(i: int) -> list[float]:
    return [HOF[0] + (i % 100) * 0.01, HOF[1] + (i // 100) * 0.005]


async def seed(database_url: str, couriers: int) -> Fleet:
    """Drivers with one order each, out for delivery on a straight 2 km route (via SQL,
    before the server starts: it loads the runs at start-up)."""
    tokens = [new_token() for _ in range(couriers)]
    codes = [new_code() for _ in range(couriers)]
    starts = [_start(i) for i in range(couriers)]
    routes: list[dict[str, object]] = [
        {"type": "LineString", "coordinates": [s, [s[0] + 2_000 / 71_400, s[1]]]} for s in starts
    ]
    destinations = [(s[0] + 2_000 / 71_400, s[1]) for s in starts]
    conn = await asyncpg.connect(database_url)
    try:
        await codecs.register(conn)
        await bench_sql.reset(conn)
        await bench_sql.seed_runs(
            conn, [hash_token(t) for t in tokens], codes, destinations, routes, datetime.now(UTC)
        )
    finally:
        await conn.close()
    return Fleet(tokens, codes, list(range(1, couriers + 1)), starts)


async def start_server(
    database_url: str,
    admin_token: str,
    bus: str = "memory",
    bus_prefix: str = "tracker:",
    env: dict[str, str] | None = None,
) -> tuple[asyncio.subprocess.Process, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    env = {
        **os.environ,
        **(env or {}),
        "DATABASE_URL": database_url,
        "TRACKER_ADMIN_TOKEN": admin_token,
        "TRACKER_TRACK_LOOKUP_BURST": "1000000",
        "TRACKER_TRACK_LOOKUPS_PER_MIN": "1000000",
        "TRACKER_SUBSCRIBER_MAX_PENDING": "4096",
        "TRACKER_MAX_CONNECTIONS_PER_ADDRESS": "1000000",  # all the load comes from 127.0.0.1
        "TRACKER_BUS": bus,
        "TRACKER_BUS_PREFIX": bus_prefix,
    }
    command = ["-m", "server.cli", "serve", "--fd", str(sock.fileno()), "--log-level", "warning"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, *command, env=env, pass_fds=(sock.fileno(),)
    )
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()  # the server holds its own copy
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
            if process.returncode is not None:
                break
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


def _rss_mib(proc: psutil.Process) -> float:
    rss: int = proc.memory_info().rss
    return rss / 2**20


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
    rss = sum(_rss_mib(p) for p in procs)
    seen = await watchers.finish()
    step = Step(couriers=n)
    step.sent = sum(r["sent"] for r in results)
    step.acked = sum(r["acked"] for r in results)
    step.rejected = sum(r["rejected"] for r in results)
    step.errors = sum(r["errors"] for r in results)
    window = max(r["send_window_s"] for r in results)
    step.offered_per_s = round(step.sent / window, 1)
    step.persisted_per_s = round(step.acked / window, 1)
    step.ack_latency_ms = _merge([r["ack_latency_ms"] for r in results])
    step.customer_latency_ms = seen["customer_latency_ms"]
    step.deliveries_per_s = seen["deliveries_per_s"]
    step.watchers_closed = seen["closed"]
    used = sum(
        (a.user - b.user) + (a.system - b.system)
        for a, b in zip(cpu_after, cpu_before, strict=True)
    )
    step.server_cpu_pct = round(100 * used / wall, 1)
    step.server_rss_mib = round(rss, 1)
    acked_times: dict[int, list[int]] = {}
    for r in results:
        for driver, times in r["acked_times"].items():
            acked_times.setdefault(int(driver), []).extend(times)
    return step, acked_times


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Percentiles of several processes: the worst of each (conservative)."""
    keys = ("p50", "p99", "max")
    return {k: max((p[k] for p in parts if p.get(k) is not None), default=None) for k in keys}


async def verify(database_url: str, acked: dict[int, set[int]]) -> int:
    """How many acked fixes are missing from the database (must be 0)."""
    conn = await asyncpg.connect(database_url)
    try:
        stored = await bench_sql.stored_times(conn, list(acked))
    finally:
        await conn.close()
    return sum(len(times - stored.get(driver, set())) for driver, times in acked.items())


async def bench(profile: Profile, database_url: str) -> dict[str, Any]:
    report: dict[str, Any] = {"profile": asdict(profile), "machine": {"cpus": os.cpu_count()}}
    await migrate.prepare(database_url)
    await migrate.upgrade_async(database_url)
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
    report["missing_acked_fixes"] = sum(r["missing_acked_fixes"] for r in report["runs"])
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
            print(_row(step), file=sys.stderr, flush=True)
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


HEADER = (
    f"{'couriers':>8} {'offered/s':>9} {'stored/s':>9} {'ack p50':>8} {'ack p99':>8} "
    f"{'cust p50':>8} {'cust p99':>8} {'deliv/s':>8} {'cpu %':>6} {'rss MiB':>8} {'errors':>6}"
)


def _row(s: Step) -> str:
    def ms(d: dict[str, Any], k: str) -> str:
        return "-" if d.get(k) is None else f"{d[k]:.1f}"

    return (
        f"{s.couriers:>8} {s.offered_per_s:>9.0f} {s.persisted_per_s:>9.0f} "
        f"{ms(s.ack_latency_ms, 'p50'):>8} {ms(s.ack_latency_ms, 'p99'):>8} "
        f"{ms(s.customer_latency_ms, 'p50'):>8} {ms(s.customer_latency_ms, 'p99'):>8} "
        f"{s.deliveries_per_s:>8.0f} {s.server_cpu_pct:>6.1f} {s.server_rss_mib:>8.1f} "
        f"{s.errors + s.rejected + s.watchers_closed:>6}"
    )


def table(report: dict[str, Any]) -> str:
    lines = []
    for run in report["runs"]:
        lines += [f"-- {run['server_processes']} server process(es)", HEADER]
        lines += [_row(Step(**s)) for s in run["steps"]]
        lines.append(
            f"idle socket: {run['idle_bytes_per_socket']:,} B of server memory; acked fixes "
            f"checked in the database: {run['acked_fixes_checked']:,}, "
            f"missing: {run['missing_acked_fixes']}"
        )
    c = report["ceilings"]
    lines.append(
        f"ceilings: COPY {c['copy_rows_per_s']:,} rows/s, "
        f"bare websocket {c['bare_websocket_msgs_per_s']:,} msgs/s"
    )
    return "\n".join(lines)
