"""Generate the demo fleet's runs on real streets from the Porto OpenStreetMap extract.

Run once by a developer (not at set-up); its output, server/sim/data/porto_runs.json, is
committed. Needs the `data` extra (pip install -e '.[data]') and ../shared/data.

    .venv/bin/python scripts/make_demo_routes.py [--runs 24] [--seed 7]

OpenStreetMap data © OpenStreetMap contributors, available under the Open Database
Licence (ODbL 1.0); the derived routes carry the same attribution and licence.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
from pathlib import Path

import networkx as nx
import osmium

ROOT = Path(__file__).resolve().parents[1]
EXTRACT = ROOT.parent / "shared" / "data" / "osm" / "porto_center.osm.pbf"
OUTPUT = ROOT / "server" / "sim" / "data" / "porto_runs.json"
DRIVABLE = {
    "primary": 13.0, "primary_link": 10.0, "secondary": 11.0, "secondary_link": 9.0,
    "tertiary": 10.0, "tertiary_link": 8.0, "unclassified": 8.0, "residential": 7.0,
    "living_street": 4.0,
}  # fmt: skip  # typical speeds, m/s
ATTRIBUTION = (
    "Routes derived from OpenStreetMap data © OpenStreetMap contributors, ODbL 1.0 "
    "(https://www.openstreetmap.org/copyright); extract porto_center.osm.pbf (2020-07-20) "
    "as shipped in the Valhalla test data."
)
CORE = (-8.6212, 41.1247, -8.5937, 41.1561)  # the extract's header bbox


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat = math.radians((a[1] + b[1]) / 2)
    dx = (b[0] - a[0]) * 111_320 * math.cos(lat)
    dy = (b[1] - a[1]) * 110_540
    return math.hypot(dx, dy)


class Streets(osmium.SimpleHandler):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.graph: nx.DiGraph = nx.DiGraph()

    def way(self, way: osmium.osm.Way) -> None:
        kind = way.tags.get("highway")
        if kind not in DRIVABLE or way.tags.get("access") in ("no", "private"):
            return
        oneway = (
            way.tags.get("oneway") in ("yes", "1", "true")
            or way.tags.get("junction") == "roundabout"
        )
        points = [(n.lon, n.lat) for n in way.nodes if n.location.valid()]
        for a, b in itertools.pairwise(points):
            seconds = metres(a, b) / DRIVABLE[kind]
            self.graph.add_edge(a, b, seconds=seconds)
            if not oneway:
                self.graph.add_edge(b, a, seconds=seconds)


def inside(point: tuple[float, float]) -> bool:
    return CORE[0] <= point[0] <= CORE[2] and CORE[1] <= point[1] <= CORE[3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=24)
    parser.add_argument("--stops", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    streets = Streets()
    streets.apply_file(str(EXTRACT), locations=True)
    graph = streets.graph
    core = max(nx.strongly_connected_components(graph), key=len)
    nodes = sorted(n for n in core if inside(n))
    rng = random.Random(args.seed)
    runs = []
    while len(runs) < args.runs:
        stops = [rng.choice(nodes) for _ in range(args.stops + 1)]
        legs = []
        for a, b in itertools.pairwise(stops):
            path = nx.shortest_path(graph, a, b, weight="seconds")
            length = sum(metres(p, q) for p, q in itertools.pairwise(path))
            if not 700 <= length <= 3500:
                break
            seconds, durations = 0.0, [0.0]
            for p, q in itertools.pairwise(path):
                seconds += graph[p][q]["seconds"]
                durations.append(round(seconds, 1))
            legs.append(
                {
                    "coordinates": [[round(x, 6), round(y, 6)] for x, y in path],
                    "durations_s": durations,
                }
            )
        if len(legs) == args.stops:
            runs.append({"legs": legs})
    OUTPUT.write_text(
        json.dumps(
            {
                "attribution": ATTRIBUTION,
                "licence": "ODbL-1.0",
                "runs": runs,
            },
            separators=(",", ":"),
        )
    )
    print(f"wrote {len(runs)} runs to {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
