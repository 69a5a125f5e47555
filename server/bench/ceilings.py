"""This machine's own ceilings, which the bench's figures are read against: how many rows/s
COPY stores into a history-shaped table, how many messages/s a bare websocket takes."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import asyncpg

from server.bench.spawn import worker
from server.bench.target import HOF
from server.store import bench as bench_sql
from server.store import codecs


async def copy_ceiling(database_url: str, rows: int) -> float:
    """Rows/s asyncpg COPY sustains into a table shaped and indexed like the history."""
    conn = await asyncpg.connect(database_url)
    try:
        await codecs.register(conn)
        await bench_sql.copy_ceiling_table(conn)
        now = datetime.now(UTC)
        records = [
            (i % 1000, datetime.fromtimestamp(now.timestamp() - i, UTC), now, HOF,
             8.0, 10.0, 90.0, None, None, None)
            for i in range(rows)
        ]  # fmt: skip
        started = time.perf_counter()
        await bench_sql.copy_into_ceiling_table(conn, records)
        return rows / (time.perf_counter() - started)
    finally:
        await conn.close()


async def ws_ceiling(seconds: float, connections: int) -> float:
    """Messages/s a bare `websockets` receive loop takes, from another process."""
    sink = await worker("ws_sink", {})
    port = (await sink.line())["port"]
    blast = await worker(
        "ws_blast",
        {"url": f"ws://127.0.0.1:{port}", "connections": connections, "seconds": seconds},
    )
    sent = await blast.result()
    received = (await sink.finish())["received"]
    return float(min(sent["sent"], received)) / float(sent["seconds"])
