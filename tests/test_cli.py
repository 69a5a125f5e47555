"""The `tracker` command: every subcommand has --help; serve refuses to start half-configured."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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


def test_serve_without_admin_token_says_how_to_fix_it() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_ADMIN_TOKEN"}
    result = tracker("serve", "--port", "0", env=env)
    assert result.returncode != 0
    assert "TRACKER_ADMIN_TOKEN" in result.stderr


def test_a_malformed_setting_stops_start_up_with_one_line_naming_it() -> None:
    env = {**os.environ, "TRACKER_ADMIN_TOKEN": "x" * 32, "TRACKER_REJECT_NULL_ISLAND": "ture"}
    result = tracker("serve", "--port", "0", env=env)
    assert result.returncode != 0
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
    assert result.returncode == 3
    assert "cannot connect" in result.stdout


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
