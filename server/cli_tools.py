"""The `tracker` subcommands that are tools beside the server: simulate (a demo fleet),
bench (load and ceilings), eval-eta (the ETA replayed on recorded trips) and seed (a made-up
delivery history for the insights)."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys

from server import exit_codes
from server.base.settings import Settings, SettingsError

BENCH_NEEDS = (
    "tracker bench needs psutil, an optional extra: pip install 'tracker[bench]' "
    "(in a checkout: .venv/bin/pip install -e '.[bench]')"
)


def settings_from_env(**overrides: object) -> Settings:
    """The settings every subcommand runs with; a bad variable ends the command, named."""
    try:
        return Settings.from_env(None, **overrides)
    except SettingsError as exc:
        exit_codes.fail(exit_codes.CONFIGURATION, f"configuration error: {exc}")


def cmd_simulate(args: argparse.Namespace) -> int:
    from server.sim.fleet import Stats, simulate

    settings = settings_from_env()
    token = args.admin_token or settings.admin_token
    if not token:
        sys.exit("simulate needs the admin key: --admin-token or TRACKER_ADMIN_TOKEN")
    base_url = args.url.rstrip("/")
    if not 0 < args.speedup <= 3:
        sys.exit("--speedup must be above 0 and at most 3 (faster would look like teleports)")

    def ready(stats: Stats) -> None:
        print(f"demo fleet: {args.couriers} couriers driving in Porto (OpenStreetMap data, ODbL)")
        print(f"  dispatcher page: {base_url}/dispatch   (API key: {token})")
        print(f"  courier page:    {base_url}/driver")
        print("  customer tracking links:")
        for url in stats.tracking_urls[:5]:
            print(f"    {url}")
        sys.stdout.flush()

    import httpx

    try:
        stats = asyncio.run(
            simulate(
                base_url,
                token,
                args.couriers,
                seconds=args.seconds,
                speedup=args.speedup,
                interval_s=args.interval,
                seed=args.seed,
                on_ready=ready,
            )
        )
    except KeyboardInterrupt:
        return 0
    except httpx.ConnectError as exc:
        exit_codes.fail(
            exit_codes.FAILURE,
            f"cannot reach the server at {base_url}: {exc}; start it (tracker serve) or fix --url",
        )
    print(json.dumps({"fixes_sent": stats.fixes, "orders_delivered": stats.delivered}))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("psutil") is None:
        sys.exit(BENCH_NEEDS)
    from server.store.bench_scale import NotScratch

    try:
        return _bench(args)
    except NotScratch as exc:  # every bench empties its database: only a scratch one
        exit_codes.fail(exit_codes.FAILURE, str(exc))


def _bench(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from server.bench.report import table
    from server.bench.run import FULL, QUICK, bench

    database_url = args.database_url or os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/tracker_bench"
    )
    if args.run_changes:
        from server.bench.run_changes import bench_run_changes

        lengths = [int(n) for n in args.stops.split(",")]
        print(json.dumps(asyncio.run(bench_run_changes(database_url, lengths)), indent=1))
        return 0
    if args.insights_scale:
        from server.bench import insights_scale

        scaled = insights_scale.bench_insights_scale(
            database_url, args.deliveries, args.positions, args.days or 30, args.rollup_days,
            args.repeat,
        )  # fmt: skip
        report = asyncio.run(scaled)
        print(insights_scale.table(report), file=sys.stderr)
        print(json.dumps(report, indent=1, default=str))
        return 0
    if args.bottlenecks:
        from server.bench.bottlenecks import bench_bottlenecks

        figures = bench_bottlenecks(
            database_url, args.drivers, args.days or 7, args.fix_interval or 5.0, args.repeat
        )
        print(json.dumps(asyncio.run(figures), indent=1, default=str))
        return 0
    if args.exports:
        from server.bench.exports import bench_exports

        figures = bench_exports(
            database_url, args.drivers, args.days or 7, args.fix_interval or 1.0, args.repeat
        )
        print(json.dumps(asyncio.run(figures), indent=1, default=str))
        return 0
    if args.recording_ab:
        return _recording_ab(args, database_url)
    if args.floor:
        from server.bench.relay import floor_ramp

        steps = [int(n) for n in (args.steps or "1000,2500,5000,7500").split(",")]
        print(json.dumps(asyncio.run(floor_ramp(steps, args.step_seconds or 20.0)), indent=1))
        return 0
    if args.churn:
        from server.bench.churn import churn

        print(json.dumps(asyncio.run(churn(database_url, args.cycles, args.connections)), indent=1))
        return 0
    profile = QUICK if args.quick else FULL
    if args.steps:
        profile = replace(profile, steps=[int(n) for n in args.steps.split(",")])
    if args.step_seconds:
        profile = replace(profile, step_seconds=args.step_seconds)
    if args.idle_sockets is not None:
        profile = replace(profile, idle_sockets=args.idle_sockets)
    if args.scenario != "all":
        profile = replace(profile, scenarios=(args.scenario,))
    if args.phones:
        profile = replace(profile, phones=args.phones)
    if args.phone_rates:
        profile = replace(profile, phone_rates=tuple(int(n) for n in args.phone_rates.split(",")))
    if args.processes:
        profile = replace(
            profile, server_processes=tuple(int(n) for n in args.processes.split(","))
        )
    report = asyncio.run(bench(profile, database_url))
    print(table(report), file=sys.stderr)
    print(json.dumps(report, indent=1, default=str))
    return 0 if report["missing_acked_fixes"] == 0 else 1


def _recording_ab(args: argparse.Namespace, database_url: str) -> int:
    """`tracker bench --recording-ab`: server/bench/recording_ab.py."""
    from dataclasses import replace

    from server.bench.recording_ab import AbPlan, recording_ab, table

    plan = AbPlan(rounds=args.rounds)
    if args.steps:
        plan = replace(plan, couriers=int(args.steps.split(",")[0]))
    if args.phone_rates:
        plan = replace(plan, phone_rate=int(args.phone_rates.split(",")[0]))
    if args.phones:
        plan = replace(plan, phones=args.phones)
    if args.step_seconds:
        plan = replace(plan, step_seconds=args.step_seconds)
    if args.deliveries_per_s is not None:
        plan = replace(plan, deliveries_per_s=args.deliveries_per_s)
    if args.scenario != "all":
        plan = replace(plan, scenarios=(args.scenario,))
    report = asyncio.run(recording_ab(database_url, plan))
    print(table(report), file=sys.stderr)
    print(json.dumps(report, indent=1, default=str))
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate = sub.add_parser(
        "simulate",
        help="run a demo fleet on Porto's streets against a server (until interrupted)",
    )
    simulate.add_argument("--url", default="http://127.0.0.1:8000", help="the server")
    simulate.add_argument("--admin-token", help="default: TRACKER_ADMIN_TOKEN")
    simulate.add_argument("--couriers", type=int, default=12)
    simulate.add_argument("--seconds", type=float, help="stop after this long")
    simulate.add_argument(
        "--speedup", type=float, default=1.0, help="drive this much faster (at most 3)"
    )
    simulate.add_argument("--interval", type=float, default=2.0, help="seconds between fixes")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.set_defaults(func=cmd_simulate)

    bench = sub.add_parser(
        "bench",
        help="start a server on a scratch database, ramp couriers/customers/dispatchers from "
        "separate processes, measure this machine's ceilings; JSON on stdout, a table on stderr",
    )
    bench.add_argument("--quick", action="store_true", help="a small run, well under a minute")
    bench.add_argument("--steps", help="couriers per step, e.g. 1000,2500,5000")
    bench.add_argument("--step-seconds", type=float, help="seconds of load per step")
    bench.add_argument("--idle-sockets", type=int, help="idle sockets for the memory figure")
    bench.add_argument(
        "--processes",
        help="server processes per ramp, e.g. 1,2 (the full profile's default; >1 uses "
        "Redis at BENCH_REDIS_URL, default redis://127.0.0.1:6379/0)",
    )
    bench.add_argument(
        "--scenario",
        choices=("all", "sockets", "phones"),
        default="all",
        help="courier/customer/dispatcher sockets, phone apps over HTTP, or both (default)",
    )
    bench.add_argument("--phones", type=int, help="phone-app devices (default 50; quick 10)")
    bench.add_argument("--phone-rates", help="phone-app fixes/s per step, e.g. 500,1000,2500")
    bench.add_argument(
        "--run-changes",
        action="store_true",
        help="instead: how long changes to a long run (stops inserted at 0, moved, "
        "cancelled, delivered) block the server's event loop, per run length",
    )
    bench.add_argument(
        "--stops",
        default="100,300,1000",
        help="run lengths for --run-changes (default 100,300,1000)",
    )
    bench.add_argument(
        "--churn",
        action="store_true",
        help="instead: cycles of connect/close (courier, customer, rejected, http), printing "
        "the server's RSS after each (server/bench/churn.py)",
    )
    bench.add_argument(
        "--floor",
        action="store_true",
        help="instead: the sockets ramp against a bare relay (frames in, acks and customers' "
        "positions out, nothing else): the CPU per fix no fix path can go below "
        "(server/bench/relay.py); --steps, --step-seconds",
    )
    bench.add_argument("--cycles", type=int, default=20, help="--churn: cycles (default 20)")
    bench.add_argument(
        "--connections", type=int, default=1500, help="--churn: per kind per cycle (default 1500)"
    )
    bench.add_argument(
        "--bottlenecks",
        action="store_true",
        help="instead: seed a synthetic history, time the bottleneck rollup and the "
        "/api/insights/bottlenecks and /heatmap answers (server/bench/bottlenecks.py)",
    )
    bench.add_argument(
        "--exports",
        action="store_true",
        help="instead: seed a synthetic history, time one driver-day's track export in each "
        "format, to the last byte (server/bench/exports.py)",
    )
    bench.add_argument(
        "--drivers", type=int, default=100, help="--bottlenecks, --exports: couriers"
    )
    bench.add_argument(
        "--days",
        type=int,
        help="--bottlenecks, --exports: days of history (default 7); --insights-scale: 30",
    )
    bench.add_argument(
        "--insights-scale",
        action="store_true",
        help="instead: seed issue 18's scale (orders with facts and rollups, positions), roll "
        "it up and time every /api/insights/* answer and the exports over HTTP "
        "(server/bench/insights_scale.py)",
    )
    bench.add_argument(
        "--deliveries", type=int, default=100_000, help="--insights-scale: orders (about)"
    )
    bench.add_argument(
        "--positions", type=int, default=50_000_000, help="--insights-scale: stored fixes"
    )
    bench.add_argument(
        "--rollup-days",
        type=int,
        default=1,
        help="--insights-scale: days the bottleneck rollup covers, up to today (default 1)",
    )
    bench.add_argument(
        "--fix-interval",
        type=float,
        help="--bottlenecks, --exports: seconds between fixes (default 5; --exports: 1)",
    )
    bench.add_argument(
        "--repeat",
        type=int,
        default=20,
        help="--bottlenecks, --exports, --insights-scale: requests per measured answer",
    )
    bench.add_argument(
        "--recording-ab",
        action="store_true",
        help="instead: the insights' recording on vs off, alternating, at a fixed load "
        "(couriers: the first of --steps, default 2000; phones: the first of --phone-rates, "
        "default 1000/s), fresh scratch databases named after --database-url's "
        "(server/bench/recording_ab.py)",
    )
    bench.add_argument("--rounds", type=int, default=3, help="--recording-ab: rounds (default 3)")
    bench.add_argument(
        "--deliveries-per-s",
        type=float,
        help="--recording-ab: deliveries made during each step (default couriers / 500)",
    )
    bench.add_argument(
        "--database-url",
        help="a scratch database it may empty (default BENCH_DATABASE_URL or tracker_bench)",
    )
    bench.set_defaults(func=cmd_bench)

    from server.bench import eta_eval

    evaluate = sub.add_parser(
        "eval-eta",
        help="replay recorded trips: learn from --history, predict on --traces, print ETA "
        "error figures (JSON) beside the constant-speed baseline",
    )
    eta_eval.add_arguments(evaluate)
    evaluate.set_defaults(func=eta_eval.run)

    from server.sim import history

    history.add_command(sub)  # tracker seed (issue 18)
