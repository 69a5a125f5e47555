"""The Porto extract as the test database's road network (tests of issue 19)."""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg
import pytest

from server.store import codecs, roads
from server.store.pool import create_pool
from tests.conftest import server_settings

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PORTO_PBF = DATA / "osm" / "porto_center.osm.pbf"
# Hand-checked on openstreetmap.org: Rua de Álvares Cabral (way 8367069) runs one-way
# east-south-east from Rua de Cedofeita's corner to Praça da República's: 419 m of
# secondary road, no junction between, so one edge.
ALVARES_CABRAL_FROM = (-8.6188807, 41.1551988)
ALVARES_CABRAL_TO = (-8.614016, 41.1543025)
ALVARES_CABRAL_M = 419.0


async def porto_network(database_url: str) -> tuple[roads.Network, bool]:
    """The network, and whether this call imported it."""
    if not PORTO_PBF.is_file():
        pytest.skip(f"the Porto OSM extract is not at {PORTO_PBF}")
    from server.usecases.osm_import import import_file, read_graph

    conn = await asyncpg.connect(database_url)
    await codecs.register(conn)
    try:
        net = await roads.network(conn, "car")
    finally:
        await conn.close()
    if net is not None and net.source_file == PORTO_PBF.name:
        return net, False
    started = time.perf_counter()
    graph = read_graph(str(PORTO_PBF), "car")
    pool = await create_pool(server_settings(database_url))
    try:
        report = await import_file(
            pool, str(PORTO_PBF), "car", graph, time.perf_counter() - started
        )
    finally:
        await pool.close()
    return report.network, True


async def remove_porto_network(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await roads.remove_network(conn, "car")
    finally:
        await conn.close()
