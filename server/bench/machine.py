"""Where the machine's CPU went during a step: the server, the bench's own load processes,
the database. On a small machine they share the cores, so a server figure is read against
what was left to it (`tracker bench` prints it under each courier step)."""

from __future__ import annotations

import os
from typing import Any

import psutil


def process_cpu_s() -> float:
    """This process's CPU time so far (user and system), for a worker's result."""
    times = os.times()
    return times.user + times.system


def cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def database_cpu() -> dict[tuple[int, float], float]:
    """CPU time so far of each of this machine's PostgreSQL processes, by pid and start."""
    found: dict[tuple[int, float], float] = {}
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] not in ("postgres", "postmaster"):
            continue
        try:
            found[(proc.pid, proc.create_time())] = cpu_s(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def database_cpu_since(before: dict[tuple[int, float], float]) -> float:
    """PostgreSQL's CPU since `before` (a process that ended meanwhile is not counted:
    the server's pooled connections live through a step)."""
    return sum(used - before.get(key, 0.0) for key, used in database_cpu().items())


class Shares:
    """A courier step's load and database CPU, from its start: the watchers' process is
    read as it runs; the couriers' processes live only within the step and report their
    own (`cpu_s` in their results)."""

    def __init__(self, watchers_pid: int) -> None:
        self._watchers = psutil.Process(watchers_pid)
        self._watchers_s = cpu_s(self._watchers)
        self._database = database_cpu()

    def settle(self, couriers: list[dict[str, Any]], wall_s: float) -> tuple[float, float]:
        """The load's and the database's CPU %; call while the watchers' process runs."""
        load_s = sum(r["cpu_s"] for r in couriers) + cpu_s(self._watchers) - self._watchers_s
        database_s = database_cpu_since(self._database)
        return round(100 * load_s / wall_s, 1), round(100 * database_s / wall_s, 1)


def line(server_pct: float, load_pct: float | None, database_pct: float | None) -> str:
    """One line under a step's row: the cores' shares, of 100 % per core."""
    cores = os.cpu_count() or 1
    load = "-" if load_pct is None else f"{load_pct:.1f} %"
    database = "-" if database_pct is None else f"{database_pct:.1f} %"
    return (
        f"{'':9}machine: server {server_pct:.1f} %, load {load}, database {database} "
        f"(of {100 * cores} % on {cores} cores)"
    )
