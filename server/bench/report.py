"""One load step's figures (courier sockets; phone apps over HTTP), and the table
`tracker bench` prints on stderr."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.bench import machine, stages


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
    stage_us: dict[str, float] = field(default_factory=dict)  # per fix, server/bench/stages.py
    error_kinds: dict[str, int] = field(default_factory=dict)  # the couriers' errors: count
    load_cpu_pct: float | None = None  # the bench's load processes (server/bench/machine.py)
    database_cpu_pct: float | None = None  # PostgreSQL's processes


def courier_step(n: int, results: list[dict[str, Any]], seen: dict[str, Any]) -> Step:
    """A step's counts and latencies from its courier processes' results and its
    watchers'; the latency percentiles of several processes are the worst of each."""
    step = Step(couriers=n)
    step.sent = sum(r["sent"] for r in results)
    step.acked = sum(r["acked"] for r in results)
    step.rejected = sum(r["rejected"] for r in results)
    step.errors = sum(r["errors"] for r in results)
    for r in results:
        for kind, count in r.get("error_kinds", {}).items():
            step.error_kinds[kind] = step.error_kinds.get(kind, 0) + count
    window = max(r["send_window_s"] for r in results)
    step.offered_per_s = round(step.sent / window, 1)
    step.persisted_per_s = round(step.acked / window, 1)
    step.ack_latency_ms = {
        k: max((p[k] for r in results if (p := r["ack_latency_ms"]).get(k) is not None),
               default=None)
        for k in ("p50", "p99", "max")
    }  # fmt: skip
    step.customer_latency_ms = seen["customer_latency_ms"]
    step.deliveries_per_s = seen["deliveries_per_s"]
    step.watchers_closed = seen["closed"]
    return step


def machine_line(step: Step) -> str:
    """The machine's shares under a step's row; then its couriers' errors by kind, if any."""
    shares = machine.line(step.server_cpu_pct, step.load_cpu_pct, step.database_cpu_pct)
    if not step.error_kinds:
        return shares
    kinds = ", ".join(f"{kind}: {count}" for kind, count in sorted(step.error_kinds.items()))
    return f"{shares}\n{'':9}errors: {kinds}"


HEADER = (
    f"{'couriers':>8} {'offered/s':>9} {'stored/s':>9} {'ack p50':>8} {'ack p99':>8} "
    f"{'cust p50':>8} {'cust p99':>8} {'deliv/s':>8} {'cpu %':>6} {'rss MiB':>8} {'errors':>6}"
)


def ms(d: dict[str, Any], k: str) -> str:
    return "-" if d.get(k) is None else f"{d[k]:.1f}"


def row(s: Step) -> str:
    return (
        f"{s.couriers:>8} {s.offered_per_s:>9.0f} {s.persisted_per_s:>9.0f} "
        f"{ms(s.ack_latency_ms, 'p50'):>8} {ms(s.ack_latency_ms, 'p99'):>8} "
        f"{ms(s.customer_latency_ms, 'p50'):>8} {ms(s.customer_latency_ms, 'p99'):>8} "
        f"{s.deliveries_per_s:>8.0f} {s.server_cpu_pct:>6.1f} {s.server_rss_mib:>8.1f} "
        f"{s.errors + s.rejected + s.watchers_closed:>6}"
    )


@dataclass
class PhoneStep:
    rate_per_s: int  # the step's offered rate, all devices together
    phones: int
    due: int = 0  # requests due in the step (open loop: whatever the server answered)
    offered_per_s: float = 0.0  # `due` per second of the step
    sent: int = 0
    ok: int = 0  # answered 200, nothing rejected
    rejected: int = 0
    errors: int = 0  # other answers, no answer, or not sent: the device fell too far behind
    error_kinds: dict[str, int] = field(default_factory=dict)  # status or exception: count
    stored: int = 0  # of `ok`, found in the database afterwards
    stored_per_s: float = 0.0
    latency_ms: dict[str, Any] = field(default_factory=dict)  # from when each request was due
    server_cpu_pct: float = 0.0
    server_rss_mib: float = 0.0
    stage_us: dict[str, float] = field(default_factory=dict)  # per fix, server/bench/stages.py


PHONE_HEADER = (
    f"{'phones':>6} {'rate/s':>7} {'offered/s':>9} {'stored/s':>9} {'p50 ms':>8} "
    f"{'p99 ms':>8} {'cpu %':>6} {'rss MiB':>8} {'errors':>6} {'missing':>7}"
)


def phone_row(s: PhoneStep) -> str:
    return (
        f"{s.phones:>6} {s.rate_per_s:>7} {s.offered_per_s:>9.0f} {s.stored_per_s:>9.0f} "
        f"{ms(s.latency_ms, 'p50'):>8} {ms(s.latency_ms, 'p99'):>8} {s.server_cpu_pct:>6.1f} "
        f"{s.server_rss_mib:>8.1f} {s.errors + s.rejected:>6} {s.ok - s.stored:>7}"
    )


def table(report: dict[str, Any]) -> str:
    lines = []
    if "phones" in report:
        phones = report["phones"]
        lines += ["-- phone apps over HTTP (OwnTracks and OsmAnd), 1 server process", PHONE_HEADER]
        for s in phones["steps"]:
            lines += [phone_row(PhoneStep(**s)), stages.line(s.get("stage_us", {}))]
        lines.append(
            f"answered fixes checked in the database: {phones['answered_fixes_checked']:,}, "
            f"missing: {phones['missing_answered_fixes']}"
        )
    if "runs" not in report:
        return "\n".join(lines)
    for run in report["runs"]:
        lines += [f"-- {run['server_processes']} server process(es)", HEADER]
        for s in run["steps"]:
            step = Step(**s)
            lines += [row(step), stages.line(step.stage_us), machine_line(step)]
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
