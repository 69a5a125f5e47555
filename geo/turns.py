"""OSM turn restrictions (`type=restriction` relations: from way, via node, to way) as the
turns pgRouting's `pgr_trsp` must not take: pairs of edge ids (from edge, to edge).

Pure. `no_*` forbids the turn from the from-way's edge arriving at the via node onto the
to-way's edge leaving it; `only_*` forbids every other edge leaving the via node. Via ways
(rare) and restrictions whose `except` names the profile's vehicle are left out.

>>> line = "r1 v1 Ttype=restriction,restriction=no_left_turn Mw5@from,n7@via,w6@to"
>>> parse_restriction(line, "car")
Restriction(only=False, from_way=5, via_node=7, to_way=6)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geo.road_graph import Edge

_VEHICLE = {"car": "motorcar", "bike": "bicycle"}


@dataclass(frozen=True, slots=True)
class Restriction:
    only: bool  # only_* (everything else forbidden) rather than no_*
    from_way: int
    via_node: int
    to_way: int


def parse_restriction(line: str, profile: str) -> Restriction | None:
    tags: dict[str, str] = {}
    members: list[tuple[str, int, str]] = []
    for part in line.rstrip().split(" "):
        if part.startswith("T"):
            for pair in part[1:].split(","):
                key, _, value = pair.partition("=")
                tags[key] = value
        elif part.startswith("M"):
            for ref in part[1:].split(","):
                ident, _, role = ref.partition("@")
                if len(ident) > 1 and ident[1:].isdigit():
                    members.append((ident[0], int(ident[1:]), role))
    vehicle = _VEHICLE.get(profile, "")
    kind = tags.get(f"restriction:{vehicle}") or tags.get("restriction", "")
    if not kind.startswith(("no_", "only_")) or vehicle in tags.get("except", "").split(";"):
        return None
    roles = {role: (kind_, ident) for kind_, ident, role in members}
    via, start, end = roles.get("via"), roles.get("from"), roles.get("to")
    if via is None or start is None or end is None:
        return None
    if via[0] != "n" or start[0] != "w" or end[0] != "w":
        return None  # via a way: not modelled
    return Restriction(kind.startswith("only_"), start[1], via[1], end[1])


def forbidden_turns(
    edges: Sequence[Edge], restrictions: Sequence[Restriction]
) -> list[tuple[int, int]]:
    """The (from edge, to edge) pairs the restrictions forbid."""
    arriving: dict[int, list[Edge]] = {}  # via node -> edges that can be driven into it
    leaving: dict[int, list[Edge]] = {}  # via node -> edges that can be driven out of it
    vias = {r.via_node for r in restrictions}
    for e in edges:
        for node, into, out in ((e.target, True, e.reverse_cost_s >= 0),
                                (e.source, e.reverse_cost_s >= 0, True)):  # fmt: skip
            if node in vias:
                if into:
                    arriving.setdefault(node, []).append(e)
                if out:
                    leaving.setdefault(node, []).append(e)
    pairs: set[tuple[int, int]] = set()
    for r in restrictions:
        froms = [e for e in arriving.get(r.via_node, ()) if e.way_id == r.from_way]
        tos = [e for e in leaving.get(r.via_node, ()) if e.way_id == r.to_way]
        if not froms or not tos:
            continue  # a way outside the extract, or not a road for this profile
        others = [e for e in leaving.get(r.via_node, ()) if e.way_id != r.to_way]
        banned = others if r.only else tos
        pairs.update((f.id, t.id) for f in froms for t in banned if not (r.only and f.id == t.id))
    return sorted(pairs)
