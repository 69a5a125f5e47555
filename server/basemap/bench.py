"""`tracker tiles bench --url URL`: how fast a running server serves its basemap tiles.

Every tile the file holds is asked for in a shuffled order, `--requests` times in all, by
`--concurrency` clients at once (keep-alive connections, gzip accepted, as a browser asks),
then the same again with `If-None-Match` (a browser revalidating its cache: 304 without a
read). Prints a line per pass (stderr) and JSON (stdout): requests/s, latency p50/p95/p99,
bytes per tile on the wire. Figures, not assertions.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from server.store.tiles import tile_coords


async def _pass(
    url: str, coords: list[tuple[int, int, int]], requests: int, concurrency: int, revalidate: bool
) -> dict[str, Any]:
    order = [coords[i % len(coords)] for i in range(requests)]
    random.Random(7).shuffle(order)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    wire_bytes = 0
    etags: dict[tuple[int, int, int], str] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits) as client:
        if revalidate:  # learn the ETags first (not timed)
            for z, x, y in coords:
                response = await client.get(f"/tiles/{z}/{x}/{y}.pbf")
                etags[(z, x, y)] = response.headers.get("etag", "")
        queue = list(reversed(order))
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal wire_bytes
            while queue:
                z, x, y = queue.pop()
                headers = {"If-None-Match": etags[(z, x, y)]} if revalidate else {}
                t0 = time.perf_counter()
                request = client.build_request("GET", f"/tiles/{z}/{x}/{y}.pbf", headers=headers)
                response = await client.send(request, stream=True)
                body = b"".join([chunk async for chunk in response.aiter_raw()])
                await response.aclose()
                latencies.append(time.perf_counter() - t0)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                wire_bytes += len(body)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "pass": "revalidate (304)" if revalidate else "tiles",
        "requests": len(latencies),
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "mean_wire_bytes": round(wire_bytes / len(latencies)),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def run(url: str, tiles_file: Path, requests: int, concurrency: int) -> dict[str, Any]:
    coords = tile_coords(tiles_file)
    if not coords:
        raise SystemExit(f"{tiles_file} holds no tiles")
    passes = [
        asyncio.run(_pass(url.rstrip("/"), coords, requests, concurrency, revalidate))
        for revalidate in (False, True)
    ]
    size = tiles_file.stat().st_size
    return {"tiles_file": str(tiles_file), "tiles": len(coords), "file_bytes": size} | {
        "passes": passes
    }
