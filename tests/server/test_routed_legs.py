"""Legs routed on the Porto network (issue 19), checked against what is known
independently: straight-line bounds, the line's own geodesic length, a one-way street
checked by hand, and places off the network."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from geo.distance import haversine_m
from geo.road_graph import SPEEDS_KMH
from server.base.settings import Settings
from server.store import roads
from server.store.pool import create_pool
from server.usecases.router import NO_NETWORK, Router
from tests.conftest import server_settings
from tests.server.road_network import ALVARES_CABRAL_FROM, ALVARES_CABRAL_M, ALVARES_CABRAL_TO

# (from, to), lon/lat, across the extract: Aliados, Bolhão, Cordoaria, Batalha, São Bento,
# Boavista's end, Campanhã side
PAIRS = [
    ((-8.6110, 41.1496), (-8.6005, 41.1450)),
    ((-8.6060, 41.1490), (-8.6150, 41.1460)),
    ((-8.6150, 41.1460), (-8.6030, 41.1300)),
    ((-8.6180, 41.1530), (-8.5960, 41.1420)),
]


@pytest.fixture
async def router(porto_roads: roads.Network, database_url: str) -> AsyncIterator[Router]:
    settings = server_settings(database_url)
    pool = await create_pool(settings)
    try:
        yield Router(pool, settings)
    finally:
        await pool.close()


async def geodesic_m(database_url: str, leg: dict[str, Any]) -> float:
    conn = await asyncpg.connect(database_url)
    try:
        coords = leg["geometry"]["coordinates"]
        wkt = "LINESTRING(" + ",".join(f"{x} {y}" for x, y in coords) + ")"
        return float(await conn.fetchval("SELECT ST_Length(ST_GeogFromText($1))", wkt))
    finally:
        await conn.close()


async def distance_to_line_m(
    database_url: str, leg: dict[str, Any], point: tuple[float, float]
) -> float:
    conn = await asyncpg.connect(database_url)
    try:
        coords = leg["geometry"]["coordinates"]
        wkt = "LINESTRING(" + ",".join(f"{x} {y}" for x, y in coords) + ")"
        return float(
            await conn.fetchval(
                "SELECT ST_Distance(ST_GeogFromText($1), ST_MakePoint($2, $3)::geography)",
                wkt, point[0], point[1],
            )
        )  # fmt: skip
    finally:
        await conn.close()


@pytest.mark.parametrize(("start", "end"), PAIRS)
async def test_legs_are_roads_no_shorter_than_the_crow_flies(
    router: Router, database_url: str, start: tuple[float, float], end: tuple[float, float]
) -> None:
    leg, note = await router.leg(start, end)
    assert leg is not None, note
    props = leg["properties"]
    crow_m = haversine_m(*start, *end)
    # Old-town one-way loops (Clérigos) make one of these 2.7 times the straight line.
    assert crow_m <= props["length_m"] <= 3.0 * crow_m
    # The length reported is the line's own (PostGIS geodesic length, independently).
    assert props["length_m"] == pytest.approx(await geodesic_m(database_url, leg), rel=0.01)
    durations = props["durations_s"]
    assert len(durations) == len(leg["geometry"]["coordinates"])
    assert durations == sorted(durations) and durations[0] == 0.0
    # Urban speeds: between walking pace and the fastest class's.
    top_mps = max(SPEEDS_KMH["car"].values()) / 3.6
    assert props["length_m"] / top_mps <= props["duration_s"] <= props["length_m"] / 1.0
    assert leg["geometry"]["coordinates"][0] == list(start)
    assert leg["geometry"]["coordinates"][-1] == list(end)


async def test_a_one_way_street_is_driven_its_way_only(router: Router, database_url: str) -> None:
    along, note = await router.leg(ALVARES_CABRAL_FROM, ALVARES_CABRAL_TO)
    assert along is not None, note
    assert along["properties"]["length_m"] == pytest.approx(ALVARES_CABRAL_M, abs=5.0)
    secondary_s = ALVARES_CABRAL_M / (SPEEDS_KMH["car"]["secondary"] / 3.6)
    assert along["properties"]["duration_s"] == pytest.approx(secondary_s, abs=2.0)
    against, note = await router.leg(ALVARES_CABRAL_TO, ALVARES_CABRAL_FROM)
    assert against is not None, note
    # Back against the one-way: around the block, never along the street itself.
    assert against["properties"]["length_m"] > ALVARES_CABRAL_M + 200
    middle = ((ALVARES_CABRAL_FROM[0] + ALVARES_CABRAL_TO[0]) / 2,
              (ALVARES_CABRAL_FROM[1] + ALVARES_CABRAL_TO[1]) / 2)  # fmt: skip
    assert await distance_to_line_m(database_url, along, middle) < 10.0
    assert await distance_to_line_m(database_url, against, middle) > 40.0


async def test_off_the_network_the_leg_is_refused_with_a_reason(router: Router) -> None:
    lisbon = (-9.1393, 38.7223)
    leg, note = await router.leg((-8.6110, 41.1496), lisbon)
    assert leg is None
    assert note is not None and "destination is" in note and "outside the imported area" in note
    matrix = await router.matrix([(-8.6110, 41.1496), (-8.6005, 41.1450), lisbon])
    assert matrix.note is not None and "[2]" in matrix.note


async def test_without_a_network_for_the_profile_legs_say_so(
    porto_roads: roads.Network, database_url: str
) -> None:
    settings = Settings.from_env({}, database_url=database_url, routing_profile="bike")
    pool = await create_pool(settings)
    try:
        leg, note = await Router(pool, settings).leg(*PAIRS[0])
    finally:
        await pool.close()
    assert leg is None and note == NO_NETWORK


async def test_turn_restrictions_are_respected(
    porto_roads: roads.Network, database_url: str, router: Router
) -> None:
    """Every OSM turn restriction whose turn the unrestricted fastest path would take is
    avoided by the routed one (and there are such turns in the extract)."""
    conn = await asyncpg.connect(database_url)
    try:
        net = await roads.network(conn, "car")
        assert net is not None
        turns = await conn.fetch(
            f"""SELECT t.path[1] AS f, t.path[2] AS t, a.source AS start, b.target AS finish
                FROM {net.turns_table} t JOIN {net.edges_table} a ON a.id = t.path[1]
                JOIN {net.edges_table} b ON b.id = t.path[2]
                WHERE t.path[1] <> t.path[2]"""
        )
        assert len(turns) >= 10  # Porto's centre has dozens
        tested = 0
        for turn in turns:
            free = await conn.fetch(
                "SELECT edge FROM pgr_dijkstra($1, $2::bigint, $3::bigint, true) ORDER BY seq",
                roads.edges_sql(net, None, "time"),
                turn["start"],
                turn["finish"],
            )
            free_edges = [r["edge"] for r in free]
            if not _takes(free_edges, turn["f"], turn["t"]):
                continue  # the turn is not on the way anyway
            tested += 1
            routed = await roads.path(conn, net, turn["start"], turn["finish"], None)
            assert routed, turn
            assert not _takes([p.edge for p in routed], turn["f"], turn["t"]), turn
    finally:
        await conn.close()
    assert tested >= 3


def _takes(edges: list[int], first: int, then: int) -> bool:
    return any(a == first and b == then for a, b in itertools.pairwise(edges))
