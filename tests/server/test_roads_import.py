"""`tracker osm import` (issue 19): the Porto extract becomes a pgRouting network; a bad file
changes nothing; a re-import swaps the network in while routes are being asked for."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from server.base.settings import Settings
from server.store import roads
from server.store.pool import create_pool
from server.usecases.router import Router
from tests.conftest import server_settings
from tests.server.road_network import PORTO_PBF

ROOT = Path(__file__).resolve().parents[2]
LEG = ((-8.6188807, 41.1551988), (-8.5994978, 41.1440088))  # Álvares Cabral to Bonfim


def tracker(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


async def registered(database_url: str) -> tuple[roads.Network | None, int]:
    conn = await asyncpg.connect(database_url)
    try:
        net = await roads.network(conn, "car")
        edges = 0 if net is None else await conn.fetchval(f"SELECT count(*) FROM {net.edges_table}")
    finally:
        await conn.close()
    return net, edges


async def test_the_porto_network_is_loaded(porto_roads: roads.Network) -> None:
    assert porto_roads.source_file == "porto_center.osm.pbf"
    # ~3 x 3.5 km of city centre: a few thousand junction-to-junction edges.
    assert 1_500 < porto_roads.edge_count < 5_000
    assert 100 < porto_roads.length_km < 300


@pytest.mark.parametrize("kind", ["missing", "truncated", "not_osm", "no_roads"])
async def test_a_bad_file_fails_clearly_and_leaves_the_network(
    porto_roads: roads.Network, database_url: str, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "extract.osm.pbf"
    if kind == "truncated":
        path.write_bytes(PORTO_PBF.read_bytes()[:400_000])
    elif kind == "not_osm":
        path.write_bytes(b"<html>404 Not Found</html>\n" * 100)
    elif kind == "no_roads":  # a valid OSM file with no highway in it
        path = tmp_path / "extract.osm"
        path.write_text(
            '<?xml version="1.0"?><osm version="0.6">'
            '<node id="1" version="1" lat="41.15" lon="-8.61"/></osm>'
        )
    before = await registered(database_url)
    done = await asyncio.to_thread(tracker, database_url, "osm", "import", str(path))
    assert done.returncode == 1, done.stderr
    said = done.stderr.strip()
    assert said.startswith("osm import: ") and said.endswith("the current network is unchanged")
    expected = {
        "missing": "no such readable file",
        "truncated": "not a readable OSM file",
        "not_osm": "not a readable OSM file",
        "no_roads": "no roads for the car profile",
    }[kind]
    assert expected in said
    assert await registered(database_url) == before


async def test_reimport_swaps_the_network_while_legs_are_routed(
    porto_roads: roads.Network, database_url: str
) -> None:
    settings: Settings = server_settings(database_url)
    pool = await create_pool(settings)
    router = Router(pool, settings)
    answers: list[tuple[object, str | None]] = []
    done = asyncio.Event()

    async def keep_routing() -> None:
        while not done.is_set():
            answers.append(await router.leg(*LEG))

    before, _ = await registered(database_url)
    assert before is not None
    routing = asyncio.create_task(keep_routing())
    try:
        imported = await asyncio.to_thread(tracker, database_url, "osm", "import", str(PORTO_PBF))
        for _ in range(3):  # and a few more after it, on the new network
            answers.append(await router.leg(*LEG))
    finally:
        done.set()
        await routing
        await pool.close()
    assert imported.returncode == 0, imported.stderr
    after, edges = await registered(database_url)
    assert after is not None and after.generation == before.generation + 1
    assert edges == before.edge_count
    notes = [note for route, note in answers if route is None]
    assert len(answers) > 3 and not notes, notes
    conn = await asyncpg.connect(database_url)
    try:
        assert await roads.stale_tables(conn) == []  # the old network's tables are gone
    finally:
        await conn.close()
