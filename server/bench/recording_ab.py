"""`tracker bench --recording-ab`: what the insights' recording (issue 18,
TRACKER_INSIGHTS_RECORDING) costs the ingest path.

Each round runs both modes, recording on and off, in alternating order (on-off, then
off-on, …: a machine whose load drifts during the run burdens neither mode more), and in
each mode both scenarios at a fixed offered load, each on a fresh scratch database
(named after `--database-url`'s, e.g. `bench_rec_0_on_sockets`, copied from a migrated
template, dropped after):

- courier sockets (server/bench/run.py's step: N couriers at 1 fix/s, a customer on each
  courier's order, a dispatcher), with deliveries made meanwhile (server/bench/
  deliveries.py: without them nothing is delivered and no fact is written);
- phone apps over HTTP (server/bench/phone_run.py's step) at a fixed rate, with the same
  deliveries.

Per mode it prints stored fixes/s, ack p50/p99, the server's CPU %, µs of server CPU per
fix received, µs of database CPU per fix (the scratch database's backends: the facts and
rollups are written there), deliveries/s; then on vs off in % (mean and range over the
rounds). Throughput at saturation is inverse to the CPU per fix: that is the figure to
compare, at a load the machine sustains in both modes.

Not inside a step: the bottleneck rollup job rolls fixes up `insight_rollup_lag_s` (10
min) after they were recorded, so a step never sees it; after each "on" sockets step the
rollup is run once over the step's fixes and its database time per fix is printed beside.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import statistics
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import psutil

from server.base.settings import Settings
from server.bench.deliveries import deliveries
from server.bench.phone_run import phone_step
from server.bench.run import QUICK, run_step
from server.bench.target import Fleet, seed, start_server
from server.store import bench as bench_sql
from server.store import migrate
from server.store.pool import create_pool
from server.usecases import insight_rollup

MODES = ("on", "off")


@dataclass(frozen=True)
class AbPlan:
    couriers: int = 2_000
    phone_rate: int = 1_000  # fixes/s, all phones together
    phones: int = 50
    step_seconds: float = 30.0
    rounds: int = 3
    deliveries_per_s: float | None = None  # default: one per courier every 500 s
    scenarios: tuple[str, ...] = ("sockets", "phones")


def _url(base: str, database: str) -> str:
    return base.rsplit("/", 1)[0] + "/" + database


async def _admin(
    base: str, *, drop: str | None = None, copy: tuple[str, str] | None = None
) -> None:
    """On the server's `postgres` database: drop a database, or copy one (name, template)."""
    conn = await asyncpg.connect(_url(base, "postgres"))
    try:
        if drop is not None:
            await bench_sql.drop_database(conn, drop)
        if copy is not None:
            await bench_sql.copy_database(conn, *copy)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _template(base: str) -> AsyncIterator[str]:
    """A migrated database to copy (one migration for the whole bench), named after
    `base`'s with `_template`; dropped at the end."""
    name = migrate.database_name(base) + "_template"
    await _admin(base, drop=name)
    url = _url(base, name)
    await migrate.prepare(url)
    await migrate.upgrade_async(url)
    try:
        yield name
    finally:
        await _admin(base, drop=name)


@contextlib.asynccontextmanager
async def scratch(base: str, name: str, template: str) -> AsyncIterator[str]:
    await _admin(base, copy=(name, template))
    try:
        yield _url(base, name)
    finally:
        await _admin(base, drop=name)


class DbCpu:
    """CPU time of the PostgreSQL processes serving one database (its backends, autovacuum
    workers): read from /proc, so on this machine only."""

    def __init__(self, url: str, name: str) -> None:
        self._url, self._name = url, name
        self._seen: dict[int, float] = {}

    async def _pids(self) -> list[int]:
        conn = await asyncpg.connect(self._url)
        try:
            return await bench_sql.backend_pids(conn, self._name)
        finally:
            await conn.close()

    async def start(self) -> None:
        self._seen = {pid: _cpu_s(pid) for pid in await self._pids()}

    async def used(self) -> float:
        """Seconds used since `start` by the processes serving it now (one that has
        exited meanwhile is not counted: the server's pooled connections stay)."""
        return sum(_cpu_s(pid) - self._seen.get(pid, 0.0) for pid in await self._pids())


def _cpu_s(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


@dataclass
class Served:
    """A server on a seeded scratch database, its process and its database's CPU."""

    fleet: Fleet
    admin: str
    base: str
    proc: psutil.Process
    db: DbCpu


@contextlib.asynccontextmanager
async def _served(url: str, mode: str, devices: int) -> AsyncIterator[Served]:
    fleet = await seed(url, devices)
    admin = secrets.token_urlsafe(24)
    env = {"TRACKER_INSIGHTS_RECORDING": "true" if mode == "on" else "false"}
    server, base = await start_server(url, admin, env=env)
    try:
        db = DbCpu(url, url.rsplit("/", 1)[1])
        await db.start()
        yield Served(fleet, admin, base, psutil.Process(server.pid), db)
    finally:
        server.terminate()
        await server.wait()


def _figures(
    stored_per_s: float, latency_ms: dict[str, Any], cpu_pct: float, stage_us: dict[str, float],
    db_s: float, fixes: int, done: dict[str, Any], errors: int,
) -> dict[str, Any]:  # fmt: skip
    return {
        "stored_per_s": stored_per_s,
        "ack_p50_ms": latency_ms.get("p50"),
        "ack_p99_ms": latency_ms.get("p99"),
        "cpu_pct": cpu_pct,
        "cpu_us_per_fix": stage_us.get("cpu"),
        "db_cpu_us_per_fix": round(db_s / max(1, fixes) * 1e6, 1),
        "deliveries": done,
        "errors": errors,
    }


async def _sockets(url: str, plan: AbPlan, mode: str, rate: float) -> dict[str, Any]:
    profile = replace(QUICK, steps=[plan.couriers], step_seconds=plan.step_seconds)
    async with _served(url, mode, plan.couriers) as s:
        churn = asyncio.create_task(deliveries(s.base, s.admin, rate, plan.step_seconds + 5))
        step, _ = await run_step(
            [s.base], [s.proc], s.fleet, plan.couriers, profile, s.admin, time.time()
        )
        done = await churn
        db_s = await s.db.used()
    figures = _figures(
        step.persisted_per_s, step.ack_latency_ms, step.server_cpu_pct, step.stage_us,
        db_s, step.acked, done, step.errors + step.rejected,
    )  # fmt: skip
    if mode == "on":
        figures["rollup_db_us_per_fix"] = await _rollup_cost(url, step.acked)
    return figures


async def _rollup_cost(url: str, fixes: int) -> float:
    """The bottleneck rollup over everything stored so far, once: wall µs per fix."""
    settings = Settings.from_env({}, database_url=url)
    pool = await create_pool(settings)
    try:
        began = time.perf_counter()
        await insight_rollup.roll_up(pool, settings, datetime.now(UTC))
        return round((time.perf_counter() - began) / max(1, fixes) * 1e6, 1)
    finally:
        await pool.close()


async def _phones(url: str, plan: AbPlan, mode: str, rate: float) -> dict[str, Any]:
    profile = replace(QUICK, phones=plan.phones, step_seconds=plan.step_seconds)
    async with _served(url, mode, plan.phones) as s:
        churn = asyncio.create_task(deliveries(s.base, s.admin, rate, plan.step_seconds + 4))
        step = await phone_step(
            url, s.admin, s.base, s.proc, s.fleet, plan.phone_rate, profile, time.time()
        )
        done = await churn
        db_s = await s.db.used()
    return _figures(
        step.stored_per_s, step.latency_ms, step.server_cpu_pct, step.stage_us,
        db_s, step.stored, done, step.errors + step.rejected,
    )  # fmt: skip


SCENARIOS = {"sockets": _sockets, "phones": _phones}


async def recording_ab(base_url: str, plan: AbPlan) -> dict[str, Any]:
    rate = plan.deliveries_per_s
    if rate is None:
        rate = plan.couriers / 500.0
    runs: list[dict[str, Any]] = []
    async with _template(base_url) as template:
        for r in range(plan.rounds):
            order = MODES if r % 2 == 0 else MODES[::-1]
            for mode in order:
                for scenario in plan.scenarios:
                    name = f"{migrate.database_name(base_url)}_{r}_{mode}_{scenario}"
                    async with scratch(base_url, name, template) as url:
                        figures = await SCENARIOS[scenario](url, plan, mode, rate)
                    load = [round(v, 2) for v in psutil.getloadavg()]
                    entry = {"round": r + 1, "mode": mode, "scenario": scenario, **figures,
                             "load_average": load}  # fmt: skip
                    print(_line(entry), file=sys.stderr, flush=True)
                    runs.append(entry)
    return {"plan": plan.__dict__ | {"deliveries_per_s": rate}, "runs": runs,
            "summary": summarise(runs)}  # fmt: skip


FIGURES = ("stored_per_s", "ack_p50_ms", "ack_p99_ms", "cpu_pct", "cpu_us_per_fix",
           "db_cpu_us_per_fix")  # fmt: skip


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per scenario: each figure's mean per mode, and on vs off in % per round (mean,
    min, max): each round's pair ran back to back."""
    out: dict[str, Any] = {}
    for scenario in SCENARIOS:
        mine = [r for r in runs if r["scenario"] == scenario]
        if not mine:
            continue
        by: dict[str, Any] = {}
        for key in (*FIGURES, "delivered_per_s"):

            def value(r: dict[str, Any], key: str = key) -> float | None:
                v = r["deliveries"][key] if key == "delivered_per_s" else r[key]
                return None if v is None else float(v)

            means = {}
            for mode in MODES:
                values = [v for r in mine if r["mode"] == mode and (v := value(r)) is not None]
                means[mode] = round(statistics.fmean(values), 1) if values else None
            diffs = []
            for rnd in sorted({r["round"] for r in mine}):
                pair = {r["mode"]: value(r) for r in mine if r["round"] == rnd}
                on, off = pair.get("on"), pair.get("off")
                if on is not None and off:
                    diffs.append(100.0 * (on - off) / off)
            by[key] = {**means, "diff_pct": _spread(diffs)}
        out[scenario] = by
    return out


def _spread(diffs: list[float]) -> dict[str, float] | None:
    if not diffs:
        return None
    return {"mean": round(statistics.fmean(diffs), 1), "min": round(min(diffs), 1),
            "max": round(max(diffs), 1)}  # fmt: skip


def _line(e: dict[str, Any]) -> str:
    d = e["deliveries"]
    return (
        f"round {e['round']} {e['scenario']:>7} recording {e['mode']:>3}: "
        f"stored {e['stored_per_s']:.0f}/s, ack p50/p99 {e['ack_p50_ms']}/{e['ack_p99_ms']} ms, "
        f"cpu {e['cpu_pct']:.1f} %, {e['cpu_us_per_fix']} µs/fix, db {e['db_cpu_us_per_fix']} "
        f"µs/fix, deliveries {d['delivered']} ({d['delivered_per_s']}/s, {d['arrived']} GPS "
        f"arrivals, errors {d['errors']}), errors {e['errors']}, load {e['load_average']}"
        + (f", rollup {e['rollup_db_us_per_fix']} µs/fix" if "rollup_db_us_per_fix" in e else "")
    )


def table(report: dict[str, Any]) -> str:
    lines = []
    for scenario, by in report["summary"].items():
        lines.append(f"-- {scenario}: mean on / off, on vs off % (mean, range over rounds)")
        for key, v in by.items():
            d = v["diff_pct"]
            spread = (
                "-" if d is None else f"{d['mean']:+.1f} % ({d['min']:+.1f} .. {d['max']:+.1f})"
            )
            lines.append(f"{key:>18}: {v['on']} / {v['off']}   {spread}")
    return "\n".join(lines)
