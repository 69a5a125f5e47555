"""The static files' compression cache and encoding choice, without a server (the HTTP side:
tests/web/test_static_http.py)."""

from __future__ import annotations

import asyncio
import gzip
import os
from pathlib import Path

import brotli
import pytest

from server.edges import static_files
from server.edges.static_files import Compressed, chosen_encoding


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip", "gzip"),
        ("br;q=0.5, gzip;q=0.9", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("br;q=0, gzip;q=0", None),
        ("*", "br"),
        ("*;q=0, gzip", "gzip"),
        ("identity", None),
        ("", None),
        ("br;q=banana", None),
        ("BR", "br"),
        (",,;;=", None),
    ],
)
def test_the_encoding_follows_accept_encoding(accept: str, chosen: str | None) -> None:
    assert chosen_encoding(accept) == chosen


async def test_one_compression_per_file_version_however_many_ask(tmp_path: Path) -> None:
    source = tmp_path / "big.js"
    source.write_bytes(b"export const x = 1;\n" * 5000)
    calls: list[str] = []
    real = static_files._compress

    def counting(data: bytes, encoding: str) -> bytes:
        calls.append(encoding)
        return real(data, encoding)

    cache = Compressed()
    static_files._compress = counting
    try:
        bodies = await asyncio.gather(*(cache.body("k1", "br", source) for _ in range(20)))
        gz = await cache.body("k1", "gzip", source)
        again = await cache.body("k1", "br", source)
    finally:
        static_files._compress = real
    assert calls == ["br", "gzip"]
    assert all(body is bodies[0] for body in bodies) and again is bodies[0]
    assert brotli.decompress(bodies[0]) == source.read_bytes()
    assert gzip.decompress(gz) == source.read_bytes()
    assert cache.pending == {}


async def test_the_cache_stays_within_its_bound(tmp_path: Path) -> None:
    cache = Compressed(max_bytes=10_000)
    for i in range(50):
        await cache.body(f"k{i}", "gzip", os.urandom(3_000))  # incompressible: ~3 kB each
        assert cache.size <= 10_000
    assert len(cache.entries) == 3
    assert ("k49", "gzip") in cache.entries and ("k0", "gzip") not in cache.entries
