"""The `tracker` command: serve, migrate, db prepare, drivers create, keys list|revoke,
partitions maintain, learn-eta, and the tools (simulate, bench, eval-eta: server/cli_tools.py)."""

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

from server import cli_osm, cli_tools, exit_codes
from server.base import logs
from server.basemap import cli as basemap_cli
from server.cli_tools import settings_from_env as _settings
from server.exit_codes import fail

if TYPE_CHECKING:
    import asyncpg

    from server.base.settings import Settings


def cmd_serve(args: argparse.Namespace) -> int:
    import errno

    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from server.app import STARTUP_DB_WAIT_S
    from server.serve import bind_error, uvicorn_config

    overrides: dict[str, object] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    settings = _settings(**overrides)
    if not settings.admin_token:
        fail(
            exit_codes.CONFIGURATION,
            "TRACKER_ADMIN_TOKEN is not set: set it to a long random string "
            "(./scripts/run.sh generates one for you)",
        )
    logs.configure(args.log_level, settings.log_format)
    error = None if args.fd is not None else bind_error(settings.host, settings.port)
    if error is not None:
        in_use = error.errno == errno.EADDRINUSE
        fail(
            exit_codes.PORT_IN_USE if in_use else exit_codes.FAILURE,
            f"cannot listen on {settings.host}:{settings.port}: {error.strerror or error}; "
            + ("stop what uses it, or choose another " if in_use else "choose another ")
            + "--port (TRACKER_PORT) or --host (TRACKER_HOST)",
        )
    _check_database(settings, STARTUP_DB_WAIT_S)  # the app waits as long; this says it in a line
    server = uvicorn.Server(uvicorn_config(settings, fd=args.fd, log_level=args.log_level))
    # uvicorn drains on SIGTERM/SIGINT, then re-raises the signal to the handler that was
    # installed before it: make that a clean exit, as a finished drain is one.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: sys.exit(0 if server.started else 1))
    try:
        server.run()
    except SystemExit as exc:
        if exc.code != STARTUP_FAILURE:  # uvicorn's code, logged above, is not ours
            raise
        # The port taken while start-up waited (checked above): uvicorn's line said so.
        late = args.fd is None and bind_error(settings.host, settings.port)
        taken = late and late.errno == errno.EADDRINUSE
        return exit_codes.PORT_IN_USE if taken else exit_codes.FAILURE
    return 0 if server.started else 1


def _check_database(settings: Settings, wait_s: float = 0.0) -> Settings:
    """Connect once (waiting up to `wait_s` for a database still starting); if that fails,
    end with one line naming host:port and what to do, not a traceback."""
    from server.store import migrate

    try:
        asyncio.run(migrate.reachable(settings.database_url, wait_s))
    except migrate.DatabaseUnreachable as exc:
        fail(exit_codes.DATABASE_UNREACHABLE, str(exc))
    return settings


def cmd_migrate(args: argparse.Namespace) -> int:
    from server.store import migrate

    settings = _settings()
    try:
        migrate.upgrade(settings.database_url)
    except migrate.DatabaseUnreachable as exc:
        fail(exit_codes.DATABASE_UNREACHABLE, str(exc))
    except migrate.MigrationFailed as exc:
        if args.verbose:
            raise
        fail(exit_codes.FAILURE, f"{exc} (`tracker migrate -v` shows the whole error)")
    print(f"database {migrate.database_name(settings.database_url)} is at the latest schema")
    return 0


def cmd_db_prepare(args: argparse.Namespace) -> int:
    from server.store import migrate

    settings = _settings()
    try:
        created = asyncio.run(migrate.prepare(settings.database_url))
    except migrate.DatabaseUnreachable as exc:
        print(exc)
        return exit_codes.DATABASE_UNREACHABLE
    except migrate.PostgisMissing as exc:
        print(exc)
        print(exc.server_major)  # last line: read by scripts/setup.sh
        return exit_codes.NO_POSTGIS
    name = migrate.database_name(settings.database_url)
    print(f"database {name} {'created' if created else 'exists'}")
    return 0


def cmd_drivers_create(args: argparse.Namespace) -> int:
    from server.base.auth import GENERATE_DEVICE_ID, hash_token, new_device_id, new_token
    from server.store import queries
    from server.store.pool import create_pool

    settings = _check_database(_settings())
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

    settings = _check_database(_settings())

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

    settings = _check_database(_settings())

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


def cmd_learn_eta(args: argparse.Namespace) -> int:
    from server.store.pool import create_pool
    from server.usecases.learning import learn_and_store

    settings = _check_database(_settings())

    async def run() -> dict[str, object]:
        pool = await create_pool(settings)
        try:
            return await learn_and_store(pool, settings)
        finally:
            await pool.close()

    print(json.dumps(asyncio.run(run())))
    return 0


def version() -> str:
    """The installed package's version; in a checkout that is not installed, pyproject's."""
    from importlib import metadata
    from pathlib import Path

    try:
        return metadata.version("tracker")
    except metadata.PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text())["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracker",
        description="Real-time GPS delivery tracking server. Configuration comes from the "
        "environment (DATABASE_URL, TRACKER_ADMIN_TOKEN, TRACKER_*; see README).",
        epilog=exit_codes.epilog(),
    )
    parser.add_argument("--version", action="version", version=f"tracker {version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server in the foreground (SIGTERM drains)")
    serve.add_argument("--host", help="bind address (default TRACKER_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default TRACKER_PORT or 8000)")
    serve.add_argument("--fd", type=int, help="serve on an already-bound listening socket")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="bring the database schema up to date (idempotent)")
    migrate.add_argument(
        "-v", "--verbose", action="store_true", help="show alembic's lines (each migration run)"
    )
    migrate.set_defaults(func=cmd_migrate)

    db = sub.add_parser("db", help="database set-up helpers").add_subparsers(
        dest="db", required=True
    )
    prepare = db.add_parser(
        "prepare",
        help="check the server and PostGIS, create the database if missing "
        f"(exit {exit_codes.DATABASE_UNREACHABLE}: unreachable, "
        f"{exit_codes.NO_POSTGIS}: PostGIS missing)",
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

    cli_tools.add_commands(sub)
    basemap_cli.add_commands(sub)
    cli_osm.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logs.configure(log_format=logs.early_format(os.environ))  # serve: its settings' own
    args = build_parser().parse_args(argv)
    # alembic's INFO lines (plugins set up on import, each migration run) only when asked for
    verbose = getattr(args, "verbose", False)
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return exit_codes.INTERRUPTED
    except Exception as exc:
        from server.store.migrate import DatabaseUnreachable

        if isinstance(exc, DatabaseUnreachable):  # the tools' scratch databases (bench)
            fail(exit_codes.DATABASE_UNREACHABLE, str(exc))
        raise


if __name__ == "__main__":
    sys.exit(main())
