"""The `tracker` command: every subcommand has --help; serve refuses to start half-configured;
common failures end with one line and their documented exit code, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from server import exit_codes

COMMANDS = [
    [],
    ["serve"],
    ["migrate"],
    ["db", "prepare"],
    ["drivers", "create"],
    ["partitions", "maintain"],
    ["eval-eta"],
    ["learn-eta"],
    ["simulate"],
    ["bench"],
    ["tiles"],
    ["tiles", "build"],
    ["tiles", "bench"],
]


def tracker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "tracker")
def test_help(command: list[str]) -> None:
    result = tracker(*command, "--help")
    assert result.returncode == 0
    assert "usage: tracker" in result.stdout


def test_version_is_the_package_version() -> None:
    result = tracker("--version")
    assert result.returncode == 0
    assert result.stdout == f"tracker {metadata.version('tracker')}\n"


def test_help_lists_the_exit_codes() -> None:
    result = tracker("--help")
    text = " ".join(result.stdout.split())  # argparse wraps the epilog
    for code, meaning in exit_codes.TABLE.items():
        assert f"{code} {meaning}" in text


def test_serve_without_admin_token_says_how_to_fix_it() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_ADMIN_TOKEN"}
    result = tracker("serve", "--port", "0", env=env)
    assert result.returncode == exit_codes.CONFIGURATION
    assert "TRACKER_ADMIN_TOKEN" in result.stderr


def test_a_malformed_setting_stops_start_up_with_one_line_naming_it() -> None:
    env = {**os.environ, "TRACKER_ADMIN_TOKEN": "x" * 32, "TRACKER_REJECT_NULL_ISLAND": "ture"}
    result = tracker("serve", "--port", "0", env=env)
    assert result.returncode == exit_codes.CONFIGURATION
    assert result.stderr.strip().splitlines() == [
        "configuration error: TRACKER_REJECT_NULL_ISLAND='ture' is not a boolean: "
        "use true or false (also 1/0, yes/no, on/off)"
    ]


def test_an_unknown_variable_is_warned_about_once_naming_the_likely_one() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/tracker",
        "TRACKER_REJECT_NUL_ISLAND": "false",
    }
    result = tracker("db", "prepare", env=env)
    warnings = [line for line in result.stderr.splitlines() if "TRACKER_REJECT_NUL" in line]
    assert len(warnings) == 1  # a log line: time, level, logger, then the message
    assert warnings[0].endswith(
        "WARNING server.base.settings: TRACKER_REJECT_NUL_ISLAND is not a known setting "
        "(did you mean TRACKER_REJECT_NULL_ISLAND?); it is ignored"
    )


def test_db_prepare_reports_an_unreachable_server() -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/tracker"}
    result = tracker("db", "prepare", env=env)
    assert result.returncode == exit_codes.DATABASE_UNREACHABLE == 3  # scripts/setup.sh reads 3
    assert "cannot connect" in result.stdout


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


PASSWORD = "s3cret-pw"
DATABASE_COMMANDS = [
    ["migrate"],
    ["keys", "list"],
    ["drivers", "create", "--name", "Nobody"],
    ["partitions", "maintain"],
    ["learn-eta"],
]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_an_unreachable_database_is_one_line_naming_where_never_the_password(
    command: list[str], closed_port: int
) -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{closed_port}/tracker"
    result = tracker(*command, env={**os.environ, "DATABASE_URL": url})
    assert result.returncode == exit_codes.DATABASE_UNREACHABLE
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr + result.stdout
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"cannot connect to PostgreSQL at 127.0.0.1:{closed_port} ")
    assert line.endswith("start PostgreSQL or fix DATABASE_URL")


def test_serve_refuses_a_missing_database_at_once_in_one_line(database_url: str) -> None:
    """Not transient, so not waited for (a database still starting would be)."""
    missing = urlunsplit(urlsplit(database_url)._replace(path="/tracker_no_such_database"))
    env = {**os.environ, "DATABASE_URL": missing, "TRACKER_ADMIN_TOKEN": "x" * 32}
    result = tracker("serve", "--port", "0", env=env)
    assert result.returncode == exit_codes.DATABASE_UNREACHABLE
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert 'database "tracker_no_such_database" does not exist' in line
    assert line.endswith("(`tracker db prepare` creates a missing database)")


def test_serve_on_a_port_in_use_is_one_line(listening_port: int, closed_port: int) -> None:
    """Found before start-up waits for the database (here unreachable: it would wait 30 s)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed_port}/tracker",
        "TRACKER_ADMIN_TOKEN": "x" * 32,
    }
    result = tracker("serve", "--host", "127.0.0.1", "--port", str(listening_port), env=env)
    assert result.returncode == exit_codes.PORT_IN_USE
    assert result.stderr.strip().splitlines() == [
        f"cannot listen on 127.0.0.1:{listening_port}: Address already in use; stop what uses "
        "it, or choose another --port (TRACKER_PORT) or --host (TRACKER_HOST)"
    ]


def test_serve_on_a_port_taken_during_start_up_exits_port_in_use(
    database_url: str, listening_port: int
) -> None:
    """The port is free when checked, taken by the time uvicorn binds (after start-up):
    uvicorn's own line says so, the exit code is still the port's."""
    serve = (
        "import sys, server.serve; from server import cli\n"
        "real, checks = server.serve.bind_error, []\n"
        "def free_at_first(host, port):\n"
        "    checks.append(port)\n"
        "    return None if len(checks) == 1 else real(host, port)\n"
        "server.serve.bind_error = free_at_first\n"
        f"sys.exit(cli.main(['serve', '--host', '127.0.0.1', '--port', '{listening_port}']))"
    )
    env = {**os.environ, "DATABASE_URL": database_url, "TRACKER_ADMIN_TOKEN": "x" * 32}
    result = subprocess.run(
        [sys.executable, "-c", serve], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == exit_codes.PORT_IN_USE, result.stderr
    assert "Traceback" not in result.stderr
    assert "address already in use" in result.stderr


def test_serve_waits_for_a_database_then_says_so_in_one_line(closed_port: int) -> None:
    """Refused connections are waited for (a database still starting); the wait is
    shortened here from its 30 s."""
    serve = (
        "import sys, server.app; from server import cli\n"
        "server.app.STARTUP_DB_WAIT_S = 1.0\n"
        "sys.exit(cli.main(['serve', '--port', '0']))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://postgres:{PASSWORD}@127.0.0.1:{closed_port}/tracker",
        "TRACKER_ADMIN_TOKEN": "x" * 32,
    }
    result = subprocess.run(
        [sys.executable, "-c", serve], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == exit_codes.DATABASE_UNREACHABLE
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"cannot connect to PostgreSQL at 127.0.0.1:{closed_port} ")


async def test_migrate_on_a_schema_it_does_not_know_is_one_line(database_url: str) -> None:
    """A database migrated by a newer tracker (its revision unknown here)."""
    name = f"tracker_cli_newer_{os.getpid()}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"DROP DATABASE IF EXISTS {name}")
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        newer = urlunsplit(urlsplit(database_url)._replace(path="/" + name))
        conn = await asyncpg.connect(newer)
        await conn.execute(
            "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
            "INSERT INTO alembic_version VALUES ('ffffffffffff')"
        )
        await conn.close()
        result = tracker("migrate", env={**os.environ, "DATABASE_URL": newer})
    finally:
        await admin.execute(f"DROP DATABASE {name}")
        await admin.close()
    assert result.returncode == exit_codes.FAILURE
    assert result.stderr.strip().splitlines() == [
        f"migrating database {name} failed: Can't locate revision identified by "
        "'ffffffffffff' (`tracker migrate -v` shows the whole error)"
    ]


def test_migrate_is_quiet_unless_verbose(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    name = urlsplit(database_url).path.lstrip("/")
    quiet = tracker("migrate", env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == f"database {name} is at the latest schema\n"
    assert "alembic" not in quiet.stderr
    verbose = tracker("migrate", "-v", env=env)
    assert verbose.returncode == 0, verbose.stderr
    assert "INFO alembic.runtime.migration: Context impl PostgresqlImpl." in verbose.stderr


async def test_drivers_create_prints_a_token(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    result = tracker(
        "drivers", "create", "--name", "Cli", "--device-id", f"cli-{os.getpid()}", env=env
    )
    assert result.returncode == 0, result.stderr
    assert '"token": "' in result.stdout
    again = tracker(
        "drivers", "create", "--name", "Cli", "--device-id", f"cli-{os.getpid()}", env=env
    )
    assert again.returncode != 0 and "already belongs" in again.stderr


def test_bench_without_psutil_says_what_to_install() -> None:
    """psutil is the `bench` extra: without it the bench stops at once, naming the install."""
    hide_psutil = (
        "import sys; sys.modules['psutil'] = None; from server.cli import main; "
        "sys.exit(main(['bench', '--quick', '--database-url', 'postgresql://nowhere:1/x']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", hide_psutil], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "tracker bench needs psutil, an optional extra: pip install 'tracker[bench]' "
        "(in a checkout: .venv/bin/pip install -e '.[bench]')"
    ]


def test_ctrl_c_ends_a_command_with_130_and_no_traceback() -> None:
    interrupted = (
        "import sys; from server import cli\n"
        "def interrupt(args): raise KeyboardInterrupt\n"
        "cli.cmd_learn_eta = interrupt\n"
        "sys.exit(cli.main(['learn-eta']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", interrupted], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == exit_codes.INTERRUPTED == 130
    assert "Traceback" not in result.stderr
