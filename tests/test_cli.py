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
