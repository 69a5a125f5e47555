"""OpenStreetMap ways to a routable graph: edges between junctions, with cost per direction.

Pure: it reads OPL lines (osmium's line format, `osmium add-locations-to-ways -f opl`:
every way with its nodes' locations) and returns edges and vertices; the import
(server/usecases/osm_import.py) runs osmium and loads the result into PostGIS.

A way is kept when its `highway` class has a speed in the profile's table (below) and
access allows the vehicle; it is split at every node another kept way shares (a junction),
so an edge joins two junctions. Each edge has its length, a travel time forward (`cost_s`)
and backward (`reverse_cost_s`, -1 where the way is one-way: pgRouting's convention).

>>> g = RoadGraph.build(["w1 v1 Thighway=residential,oneway=yes Nn1x0y0,n2x0.001y0"], "car")
>>> [(e.source, e.target, round(e.length_m), e.reverse_cost_s) for e in g.edges]
[(1, 2, 111, -1.0)]
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from geo.distance import haversine_m
from geo.turns import Restriction, forbidden_turns, parse_restriction

# Travel speed per road class, km/h, per profile: urban averages (junctions, lights,
# traffic) rather than limits. A way's `maxspeed` caps its class's speed. Tune here; the
# README (Routing) documents the table.
SPEEDS_KMH: dict[str, dict[str, float]] = {
    "car": {
        "motorway": 80.0,
        "motorway_link": 45.0,
        "trunk": 60.0,
        "trunk_link": 40.0,
        "primary": 40.0,
        "primary_link": 30.0,
        "secondary": 35.0,
        "secondary_link": 28.0,
        "tertiary": 30.0,
        "tertiary_link": 25.0,
        "unclassified": 25.0,
        "residential": 22.0,
        "road": 20.0,
        "living_street": 10.0,
        "service": 12.0,
    },
    "bike": {
        "cycleway": 16.0,
        "primary": 15.0,
        "primary_link": 15.0,
        "secondary": 15.0,
        "secondary_link": 15.0,
        "tertiary": 15.0,
        "tertiary_link": 15.0,
        "unclassified": 15.0,
        "residential": 15.0,
        "road": 14.0,
        "living_street": 12.0,
        "service": 12.0,
        "track": 10.0,
        "path": 10.0,
        "pedestrian": 8.0,
        "footway": 6.0,
    },
}
PROFILES = tuple(SPEEDS_KMH)
# Classes a bike takes only where `bicycle=yes|designated|permissive` says so.
_BIKE_IF_ALLOWED = frozenset({"path", "pedestrian", "footway", "track"})
_YES = frozenset({"yes", "true", "1", "designated", "permissive", "destination", "delivery"})
_NO_ACCESS = frozenset({"no", "private", "agricultural", "forestry", "military"})
_OPL_ESCAPE = re.compile(r"%([0-9a-fA-F]+)%")
_Node = tuple[int, float, float]  # OSM id, lon, lat
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph)?")


class OsmError(ValueError):
    """The input is not OSM data this import can read; the message says what was found."""


@dataclass(frozen=True, slots=True)
class Edge:
    id: int
    source: int  # OSM node id of the junction it starts at
    target: int
    cost_s: float
    reverse_cost_s: float  # -1: not drivable from target to source
    length_m: float
    road_class: str
    coords: tuple[tuple[float, float], ...]  # (lon, lat), source to target
    way_id: int = 0  # the OSM way it is part of (turn restrictions name ways)


@dataclass(slots=True)
class RoadGraph:
    profile: str
    edges: list[Edge] = field(default_factory=list)
    vertices: dict[int, tuple[float, float]] = field(default_factory=dict)  # node -> (lon, lat)
    ways_read: int = 0
    # Turns not allowed, as pairs of edge ids (geo/turns.py: OSM turn restrictions).
    restrictions: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def build(cls, opl_lines: Iterable[str], profile: str) -> RoadGraph:
        if profile not in SPEEDS_KMH:
            raise OsmError(f"unknown profile {profile!r}: one of {', '.join(PROFILES)}")
        ways: list[tuple[int, tuple[str, float, int, list[_Node]]]] = []
        uses: dict[int, int] = {}
        graph = cls(profile)
        turns: list[Restriction] = []
        for line in opl_lines:
            if line.startswith("r") and "type=restriction" in line:
                restriction = parse_restriction(line, profile)
                if restriction is not None:
                    turns.append(restriction)
                continue
            if not line.startswith("w") or "highway=" not in line:
                continue  # a node, or a way that is no road
            graph.ways_read += 1
            way = _way(line, profile)
            if way is None:
                continue
            ways.append((_osm_id(line), way))
            for node, _, _ in way[3]:
                uses[node] = uses.get(node, 0) + 1
        for way_id, (road_class, speed_kmh, direction, nodes) in ways:
            graph._split(way_id, road_class, speed_kmh / 3.6, direction, nodes, uses)
        graph.restrictions = forbidden_turns(graph.edges, turns)
        return graph

    def _split(
        self,
        way_id: int,
        road_class: str,
        speed_mps: float,
        direction: int,
        nodes: list[tuple[int, float, float]],
        uses: dict[int, int],
    ) -> None:
        piece: list[tuple[int, float, float]] = [nodes[0]]
        for node in nodes[1:]:
            if node[1:] == piece[-1][1:]:
                continue  # a repeated location: nothing to drive
            piece.append(node)
            if uses[node[0]] > 1:  # a junction: the edge ends here
                self._edge(way_id, road_class, speed_mps, direction, piece)
                piece = [node]
        if len(piece) > 1:
            self._edge(way_id, road_class, speed_mps, direction, piece)

    def _edge(
        self,
        way_id: int,
        road_class: str,
        speed_mps: float,
        direction: int,
        piece: list[tuple[int, float, float]],
    ) -> None:
        coords = tuple((lon, lat) for _, lon, lat in piece)
        length_m = sum(haversine_m(*coords[i], *coords[i + 1]) for i in range(len(coords) - 1))
        if length_m <= 0.0:
            return
        cost_s = max(length_m / speed_mps, 0.01)
        forward = cost_s if direction >= 0 else -1.0
        backward = cost_s if direction <= 0 else -1.0
        if forward < 0:  # drivable backwards only: store it the way it is driven
            coords = coords[::-1]
            piece = piece[::-1]
            forward, backward = backward, -1.0
        self.edges.append(
            Edge(
                len(self.edges) + 1,
                piece[0][0],
                piece[-1][0],
                forward,
                backward,
                length_m,
                road_class,
                coords,
                way_id,
            )
        )
        self.vertices[piece[0][0]] = coords[0]
        self.vertices[piece[-1][0]] = coords[-1]


def _way(line: str, profile: str) -> tuple[str, float, int, list[tuple[int, float, float]]] | None:
    """(class, speed km/h, direction: 1 forward only, -1 backward only, 0 both, nodes), or
    None when the way is no road for the profile."""
    tags: dict[str, str] = {}
    nodes_field = ""
    for part in line.split(" "):
        if part.startswith("T") and len(part) > 1:
            for pair in part[1:].split(","):
                key, _, value = pair.partition("=")
                tags[_unescape(key)] = _unescape(value)
        elif part.startswith("N"):
            nodes_field = part[1:]
    road_class = tags.get("highway", "")
    speed_kmh = SPEEDS_KMH[profile].get(road_class)
    if speed_kmh is None or tags.get("area") == "yes" or not _allowed(tags, profile):
        return None
    if profile == "bike" and road_class in _BIKE_IF_ALLOWED and tags.get("bicycle") not in _YES:
        return None
    maxspeed = _kmh(tags.get("maxspeed", ""))
    if maxspeed is not None:
        speed_kmh = min(speed_kmh, maxspeed)
    nodes = _nodes(nodes_field)
    if len(nodes) < 2:
        return None
    return road_class, speed_kmh, _direction(tags, profile), nodes


def _allowed(tags: dict[str, str], profile: str) -> bool:
    keys = ("access", "vehicle", "motor_vehicle") if profile == "car" else ("access", "bicycle")
    allowed = True
    for key in keys:  # the more specific key, later, decides
        value = tags.get(key)
        if value in _NO_ACCESS:
            allowed = False
        elif value in _YES:
            allowed = True
    return allowed


def _direction(tags: dict[str, str], profile: str) -> int:
    oneway = tags.get("oneway", "")
    if profile == "bike" and (
        tags.get("oneway:bicycle") == "no" or tags.get("cycleway", "").startswith("opposite")
    ):
        return 0
    if oneway in ("yes", "true", "1"):
        return 1
    if oneway in ("-1", "reverse"):
        return -1
    if oneway == "no":
        return 0
    implied = tags.get("junction") in ("roundabout", "circular") or tags.get("highway") in (
        "motorway",
        "motorway_link",
    )
    return 1 if implied else 0


def _nodes(field_text: str) -> list[tuple[int, float, float]]:
    """`n1x-8.6y41.1,n2x…` to [(id, lon, lat)]; nodes without a location are dropped."""
    nodes: list[tuple[int, float, float]] = []
    for ref in field_text.split(","):
        x_at, y_at = ref.find("x"), ref.find("y")
        if not ref.startswith("n") or x_at < 0 or y_at < x_at + 2:
            continue
        try:
            lon, lat = float(ref[x_at + 1 : y_at]), float(ref[y_at + 1 :])
            node = int(ref[1:x_at])
        except ValueError:
            continue
        if math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90:
            nodes.append((node, lon, lat))
    return nodes


def _osm_id(line: str) -> int:
    try:
        return int(line[1 : line.index(" ")])
    except ValueError:
        return 0


def _unescape(text: str) -> str:
    return _OPL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "%" in text else text


def _kmh(raw: str) -> float | None:
    match = _NUMBER.match(raw)
    if match is None:
        return None
    value = float(match.group(1)) * (1.609 if match.group(2) else 1.0)
    return value if value >= 5.0 else None
