"""`tracker bench --churn`: does a closed connection leave memory behind in the server?

It starts the server as `tracker bench` does (default settings: the collector-freeze policy
of server/base/gc_freeze.py on), then runs cycles. In each, for every kind in turn, N
connections are opened together, held until the server has taken them in, and closed:

- courier: an accepted `/ws/driver` (its own driver), which sends a fix and waits for the ack;
- customer: an accepted `/ws/track/{code}`, which waits for the snapshot;
- rejected: no valid credentials: a bad courier token (4401), an unknown tracking code
  (4404), a bad dispatcher key (4401), in turn; it waits for the server's close;
- http: `GET /healthz` with `Connection: close`, read to the end.

The server's RSS is read after each cycle, once a few freeze intervals have passed (what
died young is collected then). Cycle 1 brings the allocator's arenas and caches up to
their working size; the growth after it is what closed connections leave.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import psutil

from server.bench.client import connect
from server.bench.target import Fleet, rss_mib, seed, start_server
from server.store import migrate

CONNECT_CHUNK = 200  # connections opened at once (the listen backlog and the bench's CPU)
SETTLE_S = 3.0  # after a cycle, before RSS is read: a few freeze intervals
WAIT_S = 30.0
KINDS = ("courier", "customer", "rejected", "http")


class _Reply(msgspec.Struct):
    type: str


_decode_reply = msgspec.json.Decoder(_Reply).decode


async def _open_then_close(
    url: str, *, send: bytes | None = None, until: str | None = None, rejected: bool = False
) -> None:
    """One WebSocket connection: opened, `send` sent, a message of type `until` awaited
    (or, `rejected`, the server's close), closed."""
    got: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_message(data: bytes) -> None:
        if until is not None and not got.done() and _decode_reply(data).type == until:
            got.set_result(None)

    sock = await connect(url, on_message, WAIT_S)
    if rejected:
        await asyncio.wait_for(asyncio.shield(sock.closed), WAIT_S)
        return
    if send is not None:
        sock.send(send.decode())
    if until is not None:
        await asyncio.wait_for(got, WAIT_S)
    await sock.close(WAIT_S)


async def _http_get(host: str, port: int, path: str) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await asyncio.wait_for(reader.read(), WAIT_S)  # to the server's close
    writer.close()
    await writer.wait_closed()


def _fix(i: int, fleet: Fleet) -> bytes:
    lon, lat = fleet.starts[i]
    t_ms = int(time.time() * 1000)
    return msgspec.json.encode({"type": "fix", "seq": 1, "t": t_ms, "lat": lat, "lon": lon})


def _connection(kind: str, i: int, url: str, fleet: Fleet) -> Callable[[], Awaitable[None]]:
    ws = url.replace("http", "ws", 1)
    if kind == "courier":
        courier_url = f"{ws}/ws/driver?token={fleet.tokens[i]}"
        return functools.partial(_open_then_close, courier_url, send=_fix(i, fleet), until="ack")
    if kind == "customer":
        return functools.partial(
            _open_then_close, f"{ws}/ws/track/{fleet.codes[i]}", until="snapshot"
        )
    if kind == "rejected":
        bad = secrets.token_urlsafe(8)
        urls = (f"{ws}/ws/driver?token={bad}", f"{ws}/ws/track/{bad}", f"{ws}/ws/fleet?token={bad}")
        return functools.partial(_open_then_close, urls[i % 3], rejected=True)
    host, port = url.removeprefix("http://").split(":")
    return functools.partial(_http_get, host, int(port), "/healthz")


async def _cycle(kind: str, n: int, url: str, fleet: Fleet) -> int:
    """N connections of one kind, CONNECT_CHUNK at a time; returns how many failed."""
    failed = 0
    for start in range(0, n, CONNECT_CHUNK):
        chunk = range(start, min(n, start + CONNECT_CHUNK))
        results = await asyncio.gather(
            *(_connection(kind, i, url, fleet)() for i in chunk), return_exceptions=True
        )
        failed += sum(1 for r in results if isinstance(r, BaseException))
    return failed


async def churn(database_url: str, cycles: int, connections: int) -> dict[str, Any]:
    await migrate.prepare(database_url)
    await migrate.upgrade_async(database_url)
    fleet = await seed(database_url, connections)
    process, url = await start_server(database_url, secrets.token_urlsafe(24))
    proc = psutil.Process(process.pid)
    rows: list[dict[str, Any]] = []
    print(f"{'cycle':>5} {'rss MiB':>8} {'since 1':>8} {'failed':>6}", file=sys.stderr)
    try:
        started_mib = rss_mib(proc)
        for cycle in range(1, cycles + 1):
            failed = {kind: await _cycle(kind, connections, url, fleet) for kind in KINDS}
            await asyncio.sleep(SETTLE_S)
            current_mib = rss_mib(proc)
            rows.append({"cycle": cycle, "rss_mib": round(current_mib, 1), "failed": failed})
            since = current_mib - rows[0]["rss_mib"]
            print(
                f"{cycle:>5} {current_mib:>8.1f} {since:>+8.1f} {sum(failed.values()):>6}",
                file=sys.stderr,
                flush=True,
            )
    finally:
        process.terminate()
        await process.wait()
    return {
        "connections_per_kind": connections,
        "kinds": list(KINDS),
        "rss_at_start_mib": round(started_mib, 1),
        "cycles": rows,
        "growth_after_cycle_1_mib": round(rows[-1]["rss_mib"] - rows[0]["rss_mib"], 1),
    }
