"""The `tracker` command: serve, migrate, db prepare, drivers create, keys list|revoke,
partitions maintain, and the tools (simulate, bench, learn-eta, eval-eta)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from server.base.settings import Settings, SettingsError

if TYPE_CHECKING:
    import asyncpg

EXIT_UNREACHABLE = 3
EXIT_NO_POSTGIS = 4


def _settings(**overrides: object) -> Settings:
    try:
        return Settings.from_env(None, **overrides)
    except SettingsError as exc:
        sys.exit(f"configuration error: {exc}")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.serve import uvicorn_config

    overrides: dict[str, object] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    settings = _settings(**overrides)
    if not settings.admin_token:
        sys.exit(
            "TRACKER_ADMIN_TOKEN is not set: set it to a long random string "
            "(./scripts/run.sh generates one for you)"
        )
    server = uvicorn.Server(uvicorn_config(settings, fd=args.fd, log_level=args.log_level))
    # uvicorn drains on SIGTERM/SIGINT, then re-raises the signal to the handler that was
    # installed before it: make that a clean exit, as a finished drain is one.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: sys.exit(0 if server.started else 1))
    server.run()
    return 0 if server.started else 1


def cmd_migrate(args: argparse.Namespace) -> int:
    from server.store import migrate

    settings = _settings()
    migrate.upgrade(settings.database_url)
    print(f"database {migrate.database_name(settings.database_url)} is at the latest schema")
    return 0


def cmd_db_prepare(args: argparse.Namespace) -> int:
    from server.store import migrate

    settings = _settings()
    try:
        created = asyncio.run(migrate.prepare(settings.database_url))
    except migrate.DatabaseUnreachable as exc:
        print(exc)
        return EXIT_UNREACHABLE
    except migrate.PostgisMissing as exc:
        print(exc)
        print(exc.server_major)  # last line: read by scripts/setup.sh
        return EXIT_NO_POSTGIS
    name = migrate.database_name(settings.database_url)
    print(f"database {name} {'created' if created else 'exists'}")
    return 0


def cmd_drivers_create(args: argparse.Namespace) -> int:
    from server.base.auth import GENERATE_DEVICE_ID, hash_token, new_device_id, new_token
    from server.store import queries
    from server.store.pool import create_pool

    settings = _settings()
    if args.device_id == GENERATE_DEVICE_ID:
        args.device_id = new_device_id()

    async def create() -> dict[str, object]:
        pool = await create_pool(settings)
        token = new_token()
        try:
            async with pool.acquire() as conn:
                driver = await queries.create_driver(
                    conn,
                    name=args.name,
                    phone=args.phone,
                    vehicle=args.vehicle,
                    device_id=args.device_id,
                    token_hash=hash_token(token),
                )
        finally:
            await pool.close()
        return {"id": driver.id, "name": driver.name, "device_id": driver.device_id, "token": token}

    try:
        print(json.dumps(asyncio.run(create())))
    except queries.DuplicateDeviceId:
        sys.exit(f"device id {args.device_id!r} already belongs to a driver")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from server.store import credentials

    async def run(conn: asyncpg.Connection) -> list[credentials.ApiKey]:
        return await credentials.list_api_keys(conn)

    for key in _with_connection(run):
        print(
            json.dumps(
                {
                    "id": key.id,
                    "name": key.name,
                    "role": key.role,
                    "created_at": key.created_at.isoformat(),
                    "revoked_at": key.revoked_at and key.revoked_at.isoformat(),
                }
            )
        )
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from server.store import credentials

    async def run(conn: asyncpg.Connection) -> credentials.ApiKey | None:
        return await credentials.revoke_api_key(conn, args.id)

    key = _with_connection(run)
    if key is None:
        sys.exit(f"no API key with id {args.id} (tracker keys list shows them)")
    print(f"API key {key.id} ({key.name!r}, {key.role}) is revoked; its open sockets are closed")
    return 0


T = TypeVar("T")


def _with_connection(work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run `work` on one connection to DATABASE_URL."""
    import asyncpg

    settings = _settings()

    async def run() -> T:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def cmd_partitions_maintain(args: argparse.Namespace) -> int:
    from server.store.pool import create_pool
    from server.usecases.maintenance import maintain_once

    settings = _settings()

    async def run() -> tuple[list[str], list[str]]:
        pool = await create_pool(settings)
        try:
            created, dropped = await maintain_once(pool, settings)
        finally:
            await pool.close()
        return [d.isoformat() for d in created], [d.isoformat() for d in dropped]

    created, dropped = asyncio.run(run())
    print(json.dumps({"created": created, "dropped": dropped}))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from server.sim.fleet import Stats, simulate

    settings = _settings()
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
    print(json.dumps({"fixes_sent": stats.fixes, "orders_delivered": stats.delivered}))
    return 0


def cmd_learn_eta(args: argparse.Namespace) -> int:
    from server.store.pool import create_pool
    from server.usecases.learning import learn_and_store

    settings = _settings()

    async def run() -> dict[str, object]:
        pool = await create_pool(settings)
        try:
            return await learn_and_store(pool, settings)
        finally:
            await pool.close()

    print(json.dumps(asyncio.run(run())))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
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
    if args.processes:
        profile = replace(
            profile, server_processes=tuple(int(n) for n in args.processes.split(","))
        )
    report = asyncio.run(bench(profile, database_url))
    print(table(report), file=sys.stderr)
    print(json.dumps(report, indent=1, default=str))
    return 0 if report["missing_acked_fixes"] == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracker",
        description="Real-time GPS delivery tracking server. Configuration comes from the "
        "environment (DATABASE_URL, TRACKER_ADMIN_TOKEN, TRACKER_*; see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server in the foreground (SIGTERM drains)")
    serve.add_argument("--host", help="bind address (default TRACKER_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default TRACKER_PORT or 8000)")
    serve.add_argument("--fd", type=int, help="serve on an already-bound listening socket")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="bring the database schema up to date (idempotent)")
    migrate.set_defaults(func=cmd_migrate)

    db = sub.add_parser("db", help="database set-up helpers").add_subparsers(
        dest="db", required=True
    )
    prepare = db.add_parser(
        "prepare",
        help="check the server and PostGIS, create the database if missing "
        f"(exit {EXIT_UNREACHABLE}: unreachable, {EXIT_NO_POSTGIS}: PostGIS missing)",
    )
    prepare.set_defaults(func=cmd_db_prepare)

    drivers = sub.add_parser("drivers", help="manage drivers").add_subparsers(
        dest="drivers", required=True
    )
    create = drivers.add_parser("create", help="create a driver and print its token (shown once)")
    create.add_argument("--name", required=True)
    create.add_argument("--phone")
    create.add_argument("--vehicle")
    create.add_argument(
        "--device-id",
        help="what Traccar Client / OwnTracks identify as; `generate` draws a long random one "
        "(OsmAnd apps send no password: the device id is their secret)",
    )
    create.set_defaults(func=cmd_drivers_create)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys", required=True)
    keys_list = keys.add_parser(
        "list", help="list API keys, one JSON object a line (never the keys themselves)"
    )
    keys_list.set_defaults(func=cmd_keys_list)
    revoke = keys.add_parser(
        "revoke",
        help="revoke an API key: refused at once by every running server, its fleet sockets "
        "closed (the bootstrap TRACKER_ADMIN_TOKEN is no key: change it and restart)",
    )
    revoke.add_argument("id", type=int, help="the key's id (see keys list)")
    revoke.set_defaults(func=cmd_keys_revoke)

    parts = sub.add_parser("partitions", help="position history partitions").add_subparsers(
        dest="partitions", required=True
    )
    maintain = parts.add_parser(
        "maintain",
        help="create the coming days' partitions, drop those older than TRACKER_RETENTION_DAYS",
    )
    maintain.set_defaults(func=cmd_partitions_maintain)

    learn_eta = sub.add_parser(
        "learn-eta",
        help="learn the ETA models (speed profile by place and time of week, window "
        "calibration) from the last TRACKER_ETA_HISTORY_DAYS of stored positions",
    )
    learn_eta.set_defaults(func=cmd_learn_eta)

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
    bench.add_argument("--cycles", type=int, default=20, help="--churn: cycles (default 20)")
    bench.add_argument(
        "--connections", type=int, default=1500, help="--churn: per kind per cycle (default 1500)"
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from server.base import redact

    redact.install()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
