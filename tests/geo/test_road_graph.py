"""OSM ways to a routable graph (geo/road_graph.py), legs (geo/legs.py) and stop order
(geo/stop_order.py): pure functions, checked by hand and against brute force."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from geo.distance import haversine_m
from geo.legs import is_network_leg, leg_route, leg_start
from geo.road_graph import OsmError, RoadGraph
from geo.route import parse_route
from geo.stop_order import best_order, path_cost, reachable


def way(way_id: int, tags: str, *nodes: tuple[int, float, float]) -> str:
    refs = ",".join(f"n{n}x{lon}y{lat}" for n, lon, lat in nodes)
    return f"w{way_id} v1 dV c0 t2020-01-01T00:00:00Z i0 u T{tags} N{refs}"


A, B, C, D = (1, 0.0, 0.0), (2, 0.001, 0.0), (3, 0.002, 0.0), (4, 0.001, 0.001)


def test_ways_split_at_junctions_with_lengths_and_class_speeds() -> None:
    graph = RoadGraph.build(
        [way(1, "highway=residential", A, B, C), way(2, "highway=primary", B, D)], "car"
    )
    edges = {(e.source, e.target): e for e in graph.edges}
    assert set(edges) == {(1, 2), (2, 3), (2, 4)}  # way 1 split at node 2, shared with way 2
    ab = edges[(1, 2)]
    assert ab.length_m == pytest.approx(haversine_m(0.0, 0.0, 0.001, 0.0))
    assert ab.cost_s == pytest.approx(ab.length_m / (22 / 3.6))  # residential, 22 km/h
    assert ab.reverse_cost_s == ab.cost_s
    assert edges[(2, 4)].cost_s == pytest.approx(edges[(2, 4)].length_m / (40 / 3.6))
    assert graph.vertices[2] == (0.001, 0.0)


def test_one_way_roundabout_reverse_and_maxspeed() -> None:
    graph = RoadGraph.build(
        [
            way(1, "highway=residential,oneway=yes", A, B),
            way(2, "highway=residential,oneway=-1", B, C),
            way(3, "highway=tertiary,junction=roundabout", C, D),
            way(4, "highway=primary,maxspeed=20", D, A),
        ],
        "car",
    )
    edges = {(e.source, e.target): e for e in graph.edges}
    assert edges[(1, 2)].reverse_cost_s == -1.0
    # oneway=-1: stored the way it is driven, C to B
    assert edges[(3, 2)].reverse_cost_s == -1.0 and (2, 3) not in edges
    assert edges[(3, 2)].coords[0] == (0.002, 0.0)
    assert edges[(3, 4)].reverse_cost_s == -1.0  # a roundabout is one-way
    primary = next(e for e in graph.edges if e.road_class == "primary")
    assert primary.cost_s == pytest.approx(primary.length_m / (20 / 3.6))  # capped


def test_access_footways_and_the_bike_profile() -> None:
    lines = [
        way(1, "highway=footway", A, B),
        way(2, "highway=residential,access=private", B, C),
        way(3, "highway=residential,oneway=yes,oneway:bicycle=no", C, D),
        way(4, "highway=cycleway", D, A),
        way(5, "highway=motorway", A, C),
    ]
    car = {e.road_class for e in RoadGraph.build(lines, "car").edges}
    assert car == {"residential", "motorway"}  # the one-way street; not the private one
    bike = RoadGraph.build(lines, "bike").edges
    assert {e.road_class for e in bike} == {"residential", "cycleway"}
    assert all(e.reverse_cost_s > 0 for e in bike)  # oneway:bicycle=no


def test_unknown_profile_and_junk_lines() -> None:
    with pytest.raises(OsmError):
        RoadGraph.build([], "tank")
    graph = RoadGraph.build(["garbage", "w1 v1 Thighway=residential Nn1x,n2xayb", ""], "car")
    assert graph.edges == [] and graph.ways_read == 1


def test_a_leg_has_cumulative_times_connectors_and_parses_as_a_route() -> None:
    pieces = [
        ([(0.0, 0.0), (0.001, 0.0)], 10.0, 111.0),
        ([(0.001, 0.0), (0.001, 0.001)], 20.0, 111.0),
    ]
    leg = leg_route((-0.0001, 0.0), (0.001, 0.0011), pieces, connector_speed_mps=2.0)
    props = leg["properties"]
    assert is_network_leg(leg) and leg_start(leg) == (-0.0001, 0.0)
    assert props["durations_s"][0] == 0.0
    assert props["durations_s"] == sorted(props["durations_s"])
    connectors_s = (haversine_m(-0.0001, 0, 0, 0) + haversine_m(0.001, 0.001, 0.001, 0.0011)) / 2
    assert props["duration_s"] == pytest.approx(30.0 + connectors_s, abs=0.2)
    route = parse_route(leg)
    assert not route.provisional and route.durations_s is not None
    assert len(route.coords) == 5


def test_stop_order_is_exact_for_small_runs_and_never_worse() -> None:
    rng = random.Random(19)
    for n in range(1, 8):
        cost = [
            [0.0 if i == j else rng.uniform(10, 600) for j in range(n + 1)] for i in range(n + 1)
        ]
        order = best_order(cost)
        assert sorted(order) == list(range(1, n + 1))
        brute = min(path_cost(cost, p) for p in itertools.permutations(range(1, n + 1)))
        assert path_cost(cost, order) == pytest.approx(brute)


def test_stop_order_on_larger_runs_is_no_worse_than_given_even_with_gaps() -> None:
    rng = random.Random(7)
    for n in (12, 30):
        points = [(rng.random(), rng.random()) for _ in range(n + 1)]
        cost = [[math.dist(a, b) * 1000 for b in points] for a in points]
        cost[0][3] = math.inf  # no path: counted as very long, never chosen over a path
        order = best_order(cost)
        given = list(range(1, n + 1))
        assert sorted(order) == given
        assert path_cost(cost, order) <= path_cost(cost, given)
        assert path_cost(cost, order) < 0.6 * path_cost(cost, given)  # random order is poor
        assert order[0] != 3


def test_turn_restrictions_become_forbidden_edge_pairs() -> None:
    # A crossing at node 2: way 1 west-east (1-2-3), way 2 south-north (5-2-4).
    e = (5, 0.001, -0.001)
    lines = [
        way(1, "highway=residential", A, B, C),
        way(2, "highway=residential", e, B, D),
        "r9 v1 Ttype=restriction,restriction=no_left_turn Mw1@from,n2@via,w2@to",
        "r10 v1 Ttype=restriction,restriction=only_straight_on Mw2@from,n2@via,w2@to",
        "r11 v1 Ttype=restriction,restriction=no_u_turn,except=motorcar Mw1@from,n2@via,w1@to",
        "r12 v1 Ttype=restriction,restriction=no_right_turn Mw1@from,w7@via,w2@to",
    ]
    graph = RoadGraph.build(lines, "car")
    ids = {(ed.source, ed.target): ed.id for ed in graph.edges}
    a_b, b_c, e_b, b_d = ids[(1, 2)], ids[(2, 3)], ids[(5, 2)], ids[(2, 4)]
    forbidden = set(graph.restrictions)
    # no_left_turn from way 1 onto way 2: both of way 2's edges out of node 2, from both of
    # way 1's edges into it (way 1 is two-way: 1-2 arrives forward, 2-3 backwards).
    assert {(a_b, e_b), (a_b, b_d), (b_c, e_b), (b_c, b_d)} <= forbidden
    # only_straight_on along way 2: nothing but way 2 out of node 2.
    assert {(e_b, a_b), (e_b, b_c), (b_d, a_b), (b_d, b_c)} <= forbidden
    assert (e_b, b_d) not in forbidden and (a_b, b_c) not in forbidden
    # `except=motorcar` and via a way: not for cars.
    assert len(forbidden) == 8


def test_an_order_with_a_hop_without_a_path_is_not_reachable() -> None:
    inf = float("inf")
    cost = [[0.0, 10.0, inf], [10.0, 0.0, 5.0], [inf, 5.0, 0.0]]  # 0 cannot reach 2 directly
    assert reachable(cost, [1, 2])
    assert not reachable(cost, [2, 1])
    assert best_order(cost) == [1, 2]  # the unreachable hop is never preferred
