"""`tracker bench …` run as a user runs it: a child process, its output captured."""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg


def run_bench(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "bench", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        check=False,
    )


async def fetch_value(database_url: str, sql: str) -> object:
    """One value from the bench's database, on a connection of its own."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()
