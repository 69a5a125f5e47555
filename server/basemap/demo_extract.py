"""A stand-in OpenStreetMap extract for the demo when no real one is at hand: the streets
the demo fleet drives (server/sim/data/porto_runs.json, themselves OpenStreetMap data) as
ways tagged `highway=residential`, written as an OSM PBF file that tilemaker reads like any
extract. The map then shows the demo's streets, not the whole city.

The PBF format (https://wiki.openstreetmap.org/wiki/PBF_Format) is protobuf messages in
zlib blobs; these are the few fields tilemaker needs (a header with its bounding box, dense
nodes, ways), encoded by hand: a few varints, no protobuf dependency for the server.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

Coordinate = tuple[float, float]  # lon, lat
NANO = 1_000_000_000
GRANULARITY = 100  # nanodegrees per unit: PBF's default


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    """A varint field (wire type 0)."""
    return _varint(number << 3) + _varint(value)


def _packed(number: int, values: Iterable[int]) -> bytes:
    return _field(number, b"".join(_varint(v) for v in values))


def _deltas(values: Sequence[int]) -> list[int]:
    """Zigzag-encoded differences, as PBF's packed sint64 fields with delta coding take them."""
    return [_zigzag(v - (values[i - 1] if i else 0)) for i, v in enumerate(values)]


def _blob(kind: str, message: bytes) -> bytes:
    blob = _int_field(2, len(message)) + _field(3, zlib.compress(message))
    header = _field(1, kind.encode()) + _int_field(3, len(blob))
    return struct.pack(">I", len(header)) + header + blob


def pbf_bytes(lines: Sequence[Sequence[Coordinate]]) -> bytes:
    """An OSM PBF file whose ways are `lines` (each at least two points), tagged
    highway=residential; points shared by lines become one node."""
    node_ids: dict[tuple[int, int], int] = {}
    ways: list[list[int]] = []
    for line in lines:
        refs = []
        for lon, lat in line:
            key = (round(lon * NANO / GRANULARITY), round(lat * NANO / GRANULARITY))
            refs.append(node_ids.setdefault(key, len(node_ids) + 1))
        if len(set(refs)) >= 2:
            ways.append(refs)
    if not ways:
        raise ValueError("no line with two distinct points")
    lons = [k[0] for k in node_ids]
    lats = [k[1] for k in node_ids]
    bbox = b"".join(  # HeaderBBox: left, right, top, bottom (sint64 nanodegrees)
        _int_field(n, _zigzag(v * GRANULARITY))
        for n, v in ((1, min(lons)), (2, max(lons)), (3, max(lats)), (4, min(lats)))
    )
    header = _field(1, bbox) + _field(4, b"OsmSchema-V0.6") + _field(4, b"DenseNodes")
    header += _field(16, b"tracker tiles build --demo-routes")
    strings = _field(1, _field(1, b"") + _field(1, b"highway") + _field(1, b"residential"))
    ids = list(node_ids.values())
    dense = _packed(1, _deltas(ids)) + _packed(8, _deltas(lats)) + _packed(9, _deltas(lons))
    nodes_group = _field(2, dense)
    way_messages = b"".join(
        _field(
            3,
            _int_field(1, i + 1) + _packed(2, [1]) + _packed(3, [2]) + _packed(8, _deltas(refs)),
        )
        for i, refs in enumerate(ways)
    )
    block = strings + _field(2, nodes_group) + _field(2, way_messages)
    return _blob("OSMHeader", header) + _blob("OSMData", block)


def write_demo_extract(runs_file: Path, out: Path) -> int:
    """Write the demo fleet's streets as an .osm.pbf file; returns the number of ways."""
    import json

    runs = json.loads(runs_file.read_text())["runs"]
    lines = [
        [(float(lon), float(lat)) for lon, lat in leg["coordinates"]]
        for run in runs
        for leg in run["legs"]
    ]
    out.write_bytes(pbf_bytes(lines))
    return len(lines)
