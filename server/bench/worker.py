"""Load-generating processes for `tracker bench`. Each role reads a JSON spec on stdin and
prints one JSON result on stdout: `python -m server.bench.worker ROLE`.

Couriers move continuously back and forth along their route at 10 m/s, so consecutive
steps of a benchmark never look like teleports.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec
import websockets

from server.bench.client import LeanSocket, connect
from server.bench.machine import process_cpu_s

SPEED_MPS = 10.0
ROUTE_M = 2_000.0
DEG_PER_M_LON = 1 / 71_400.0  # at lat ~50
CONNECT_CHUNK = 200
WARMUP_S = 3.0


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50": at(0.50), "p99": at(0.99), "max": round(ordered[-1], 2)}


def position(start: list[float], t_s: float, t0_s: float) -> tuple[float, float]:
    """Back and forth along a 2 km street, as a function of time only."""
    offset = (SPEED_MPS * (t_s - t0_s)) % (2 * ROUTE_M)
    along = offset if offset <= ROUTE_M else 2 * ROUTE_M - offset
    return start[0] + along * DEG_PER_M_LON, start[1]


async def connect_all(
    urls: list[str], on_message: Callable[[int, bytes], None]
) -> list[LeanSocket]:
    """Open a lean socket per URL; socket i's messages go to `on_message(i, data)`."""
    sockets: list[LeanSocket] = []
    for start in range(0, len(urls), CONNECT_CHUNK):
        chunk = urls[start : start + CONNECT_CHUNK]
        sockets += await asyncio.gather(
            *(
                _connect_retrying(u, functools.partial(on_message, start + k))
                for k, u in enumerate(chunk)
            )
        )
    # Thousands of connections are thousands of long-lived objects: out of the collector's
    # sight, so its full passes (~100 ms here) do not show up as latency in our figures.
    gc.collect()
    gc.freeze()
    return sockets


async def _connect_retrying(url: str, on_message: Callable[[bytes], None]) -> LeanSocket:
    """Like a courier app: a refused or dropped connection is tried again (a server past
    saturation accepts slowly); the third failure is the bench's error."""
    for attempt in range(3):
        try:
            return await connect(url, on_message)
        except (OSError, TimeoutError):
            if attempt == 2:
                raise
            await asyncio.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


async def close_all(sockets: list[LeanSocket]) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets))


class _Reply(msgspec.Struct):
    type: str
    seqs: list[int] = []
    seq: int | None = None


class _Courier(msgspec.Struct):
    at: datetime


class _Seen(msgspec.Struct):
    """What a watcher looks at in a message (the rest is skipped, not decoded)."""

    type: str
    courier: _Courier | None = None
    drivers: list[msgspec.Raw] = []


_decode_reply = msgspec.json.Decoder(_Reply).decode
_decode_seen = msgspec.json.Decoder(_Seen).decode


async def couriers(spec: dict[str, Any]) -> dict[str, Any]:
    ws_url, tokens, starts = spec["ws_url"], spec["tokens"], spec["starts"]
    rate_hz, seconds, t0 = spec["rate_hz"], spec["seconds"], spec["t0"]
    measure_from = spec["measure_from"]  # wall clock: latencies count from here (warm)
    n = len(tokens)
    sent_at: list[dict[int, float]] = [{} for _ in range(n)]
    acked: list[list[int]] = [[] for _ in range(n)]  # fix times (epoch ms) acked per courier
    times: list[dict[int, int]] = [{} for _ in range(n)]
    latencies: list[float] = []
    counts = {"sent": 0, "acked": 0, "rejected": 0, "errors": 0}
    kinds: dict[str, int] = {}  # errors by kind
    measure_from_perf = float("inf")

    def on_reply(i: int, raw: bytes) -> None:
        message = _decode_reply(raw)
        now = time.perf_counter()
        if message.type == "ack":
            for seq in message.seqs:
                started = sent_at[i].pop(seq, None)
                if started is not None:
                    if started >= measure_from_perf:
                        latencies.append((now - started) * 1000)
                    acked[i].append(times[i].pop(seq))
                    counts["acked"] += 1
        elif message.type == "rejected":
            counts["rejected"] += 1
            if message.seq is not None:
                sent_at[i].pop(message.seq, None)
        elif message.type == "run":
            pass  # the courier's run, sent on connect: not a reply
        else:
            counts["errors"] += 1
            kinds[f"reply {message.type}"] = kinds.get(f"reply {message.type}", 0) + 1

    sockets = await connect_all([f"{ws_url}/ws/driver?token={t}" for t in tokens], on_reply)
    seq = 0
    began = time.perf_counter()
    # Each courier's first fix builds its state on the server: warm up for a while first.
    measure_from_perf = max(began + (measure_from - time.time()), began + WARMUP_S)
    total_due = 0
    while (elapsed := time.perf_counter() - began) < seconds:
        due = int(elapsed * rate_hz * n)
        while total_due < due:  # couriers take turns, spread evenly over each second
            i = total_due % n
            total_due += 1
            seq += 1
            now_s = time.time()
            lon, lat = position(starts[i], now_s, t0)
            t_ms = int(now_s * 1000)
            if t_ms <= max(times[i].values(), default=0):
                t_ms += 1
            times[i][seq] = t_ms
            sent_at[i][seq] = time.perf_counter()
            frame = (
                f'{{"type":"fix","seq":{seq},"t":{t_ms},"lat":{lat:.6f},"lon":{lon:.6f},'
                f'"acc":8,"speed":{SPEED_MPS}}}'
            )
            if sockets[i].send(frame):
                counts["sent"] += 1
            else:  # closed: by whom and why, as the close frame said (1006: none came)
                counts["errors"] += 1
                kind = f"closed {sockets[i].conn.close_code} {sockets[i].conn.close_reason}"
                kinds[kind] = kinds.get(kind, 0) + 1
        await asyncio.sleep(0.002)
    send_window_s = time.perf_counter() - began
    deadline = time.perf_counter() + 15  # let the last acks arrive
    while any(sent_at) and time.perf_counter() < deadline:  # noqa: ASYNC110 (polls counters)
        await asyncio.sleep(0.05)
    await close_all(sockets)
    return {
        **counts,
        "unacked": sum(len(s) for s in sent_at),
        "error_kinds": kinds,
        "send_window_s": round(send_window_s, 2),
        "ack_latency_ms": percentiles(latencies),
        "acked_times": {str(spec["driver_ids"][i]): acked[i] for i in range(n)},
    }


async def watchers(spec: dict[str, Any]) -> dict[str, Any]:
    """Customers on their orders and dispatchers on the fleet, counting what arrives."""
    ws_url = spec["ws_url"]
    urls = [f"{ws_url}/ws/track/{code}" for code in spec["codes"]]
    urls += [f"{ws_url}/ws/fleet?token={spec['admin_token']}"] * spec["dispatchers"]
    latencies: list[float] = []
    counts = {"customer_messages": 0, "fleet_messages": 0, "fleet_driver_entries": 0, "closed": 0}
    customers = len(spec["codes"])
    measuring = False

    def on_message(i: int, raw: bytes) -> None:
        if not measuring:
            return
        message = _decode_seen(raw)
        if i < customers:
            counts["customer_messages"] += 1
            if message.type == "position" and message.courier is not None:
                latencies.append(1000 * (time.time() - message.courier.at.timestamp()))
        else:
            counts["fleet_messages"] += 1
            counts["fleet_driver_entries"] += len(message.drivers)

    sockets = await connect_all(urls, on_message)
    print(json.dumps({"ready": True}), flush=True)  # the orchestrator starts couriers now
    start_at = json.loads(
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    )
    await asyncio.sleep(max(0.0, start_at["measure_from"] - time.time()))
    measuring = True
    began = time.perf_counter()
    await asyncio.sleep(spec["seconds"])
    measuring = False
    window = time.perf_counter() - began
    counts["closed"] = sum(ws.closed.done() for ws in sockets)  # by the server, while watched
    # Hang up only once the couriers are done (stdin closes): thousands of sockets closing
    # at once would delay the acks of their last fixes, and count as the server's latency.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await close_all(sockets)
    deliveries = counts["customer_messages"] + counts["fleet_driver_entries"]
    return {
        **counts,
        "window_s": round(window, 2),
        "deliveries_per_s": round(deliveries / window, 1),
        "customer_latency_ms": percentiles(latencies),
    }


async def idle(spec: dict[str, Any]) -> dict[str, Any]:
    """Open sockets that do nothing; hold them until stdin closes."""
    sockets = await connect_all([spec["url"]] * spec["count"], lambda i, data: None)
    await asyncio.sleep(spec.get("settle_s", 1.0))
    print(json.dumps({"ready": True, "open": len(sockets)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await close_all(sockets)
    return {"open": len(sockets)}


async def ws_sink(spec: dict[str, Any]) -> dict[str, Any]:
    """A bare `websockets` server that only counts what it receives (the ceiling)."""
    received = 0

    async def handler(ws: Any) -> None:
        nonlocal received
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                json.loads(raw)  # the least a server must do with a frame
                received += 1

    async with websockets.serve(handler, "127.0.0.1", 0, max_size=2**20) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(json.dumps({"ready": True, "port": port}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    return {"received": received}


async def ws_blast(spec: dict[str, Any]) -> dict[str, Any]:
    """Clients sending fix-sized frames to the sink flat out."""
    sockets = [
        await websockets.connect(spec["url"], max_size=None) for _ in range(spec["connections"])
    ]
    frame = '{"type":"fix","seq":1,"t":1764324000000,"lat":50.3,"lon":11.9,"acc":8,"speed":10.0}'
    sent = 0
    deadline = time.perf_counter() + spec["seconds"]

    async def blast(ws: Any) -> None:
        nonlocal sent
        while time.perf_counter() < deadline:
            for _ in range(100):
                await ws.send(frame)
            sent += 100

    began = time.perf_counter()
    await asyncio.gather(*(blast(ws) for ws in sockets))
    elapsed = time.perf_counter() - began
    for ws in sockets:
        await ws.close()
    return {"sent": sent, "seconds": round(elapsed, 2)}


async def phones(spec: dict[str, Any]) -> dict[str, Any]:
    from server.bench.phones import phones as run  # it uses this module's `position`

    return await run(spec)


async def relay(spec: dict[str, Any]) -> dict[str, Any]:
    from server.bench.relay import serve  # the server's stack: only this role needs it

    return await serve(spec)


ROLES = {
    "couriers": couriers,
    "phones": phones,
    "watchers": watchers,
    "idle": idle,
    "ws_sink": ws_sink,
    "ws_blast": ws_blast,
    "relay": relay,
}


async def _run(role: str, spec: dict[str, Any]) -> dict[str, Any]:
    quiet = asyncio.create_task(_quiet_collector())
    try:
        result = await ROLES[role](spec)
    finally:
        quiet.cancel()
    return {**result, "cpu_s": process_cpu_s()}  # its whole life's (server/bench/machine.py)


async def _quiet_collector() -> None:
    """Freeze what lives on, every second, as the server does (server/base/gc_freeze.py): this
    process's own collector pauses would otherwise count as the server's latency."""
    while True:
        await asyncio.sleep(1.0)
        gc.collect(1)
        gc.freeze()


def main() -> None:
    role = sys.argv[1]
    spec = json.loads(sys.stdin.readline())
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    result = asyncio.run(_run(role, spec))
    # Results can be megabytes: a file, so that nothing else on stdout can split them.
    with open(spec["result_path"], "w") as f:
        json.dump(result, f)
    print(json.dumps({"done": True}), flush=True)


if __name__ == "__main__":
    main()
