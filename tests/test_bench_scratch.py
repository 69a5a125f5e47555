"""Every bench empties its database first, so each refuses one holding data no bench wrote
(a driver not named `bench …` here) and leaves it as it was: run against the wrong
`--database-url`, a bench must not wipe an operator's drivers and orders."""

from __future__ import annotations

import asyncio

import pytest

from server.store import migrate
from tests.bench_cli import fetch_value, run_bench
from tests.conftest import TEST_DATABASE_URL

GUARDED_URL = TEST_DATABASE_URL + "_not_scratch"

BENCHES = {
    "sockets and phones": ["--scenario", "phones", "--phones", "2", "--phone-rates", "20",
                           "--step-seconds", "1"],
    "run changes": ["--run-changes", "--stops", "3"],
    "bottlenecks": ["--bottlenecks", "--drivers", "1", "--days", "1", "--repeat", "1"],
    "exports": ["--exports", "--drivers", "1", "--days", "1", "--repeat", "1"],
}  # fmt: skip


async def _fetch(sql: str) -> object:
    return await fetch_value(GUARDED_URL, sql)


@pytest.fixture(scope="module")
def operator_database() -> None:
    """A migrated database holding one real driver."""
    asyncio.run(migrate.prepare(GUARDED_URL))
    asyncio.run(migrate.upgrade_async(GUARDED_URL))
    asyncio.run(_fetch("TRUNCATE drivers RESTART IDENTITY CASCADE"))
    asyncio.run(_fetch("INSERT INTO drivers (name, token_hash) VALUES ('Ana', 'hash-ana')"))


@pytest.mark.parametrize("bench", sorted(BENCHES))
def test_a_bench_refuses_a_database_holding_data_no_bench_wrote(
    operator_database: None, bench: str
) -> None:
    result = run_bench(*BENCHES[bench], "--database-url", GUARDED_URL)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "scratch database" in result.stderr and "nothing was emptied" in result.stderr
    assert asyncio.run(_fetch("SELECT string_agg(name, ',') FROM drivers")) == "Ana"
