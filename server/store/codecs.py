"""Codecs registered on every pooled connection: binary PostGIS `geometry`, and json/jsonb
as Python values (msgspec).

The hot path only writes points, so encoding is a single struct.pack of EWKB; reading
returns (lon, lat) for points and the raw EWKB bytes for anything else.
"""

from __future__ import annotations

import struct

import msgspec

from server.store import Conn

_SRID_FLAG = 0x20000000
_POINT = 1
_EWKB_POINT = struct.Struct("<BIIdd")  # byte order, type|srid flag, srid, x, y
_HEADER = struct.Struct("<BI")

LonLat = tuple[float, float]


def encode_geometry(value: LonLat | bytes) -> bytes:
    """(lon, lat) in EPSG:4326 -> EWKB point; bytes are taken as ready EWKB/WKB.

    >>> encode_geometry((7.42, 43.73)).hex()[:18]
    '0101000020e6100000'
    """
    if isinstance(value, bytes):
        return value
    lon, lat = value
    return _EWKB_POINT.pack(1, _POINT | _SRID_FLAG, 4326, lon, lat)


def decode_geometry(data: bytes) -> LonLat | bytes:
    """EWKB -> (lon, lat) for little-endian 2-D points, else the bytes unchanged."""
    if len(data) == _EWKB_POINT.size:
        order, kind = _HEADER.unpack_from(data)
        if order == 1 and kind == _POINT | _SRID_FLAG:
            _, _, _, lon, lat = _EWKB_POINT.unpack(data)
            return (lon, lat)
    return data


_JSONB_VERSION = b"\x01"  # jsonb's binary form is a version byte, then the JSON text


def _encode_jsonb(value: object) -> bytes:
    return _JSONB_VERSION + msgspec.json.encode(value)


def _decode_jsonb(data: bytes) -> object:
    return msgspec.json.decode(data[1:])


async def register(conn: Conn) -> None:
    # Binary, so that jsonb columns also work in binary COPY.
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        format="binary",
    )
    await conn.set_type_codec(
        "geometry",
        schema="public",
        encoder=encode_geometry,
        decoder=decode_geometry,
        format="binary",
    )
