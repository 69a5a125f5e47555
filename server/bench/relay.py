"""`tracker bench --floor`: the socket work of a courier's fix alone, on this machine.

A bare server on the real server's stack (uvicorn, uvloop, the direct WebSocket lane of
server/edges/net/ws_direct.py) that does with each fix only what no fix path can avoid:
read its frame, decode it, answer an ack to the courier and write a position (shaped and
encoded as the real one, a made-up ETA included) to the one customer watching. No database,
no validation, no tracking, no fleet. Driven by the bench's own courier and watcher
processes at the same rates as `tracker bench --scenario sockets`, its CPU per fix is the
floor the real server's `cpu` stands on: the real server's CPU per fix less this is what
validation, tracking, ETAs, storage, the fleet and the rest cost.

The relay runs as a bench worker (`python -m server.bench.worker relay`); it holds nothing
per socket beyond the protocol's own state and one dict entry per watcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import psutil
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from server.bench.machine import Shares
from server.bench.report import HEADER, Step, courier_step, machine_line, row
from server.bench.run import WARMUP_S  # couriers connect, then latencies count
from server.bench.spawn import worker
from server.edges.net.http_protocol import GatedHttp
from server.edges.net.ws_direct import DirectSocket, direct_socket
from server.wire import jsonin
from server.wire.live import EtaView, Position, PositionMessage


class _Fix(msgspec.Struct):
    """What the relay reads of a courier's frame (the bench's couriers send one fix each)."""

    seq: int
    t: int
    lat: float
    lon: float
    acc: float | None = None
    speed: float | None = None


class _Ack(msgspec.Struct, tag="ack", tag_field="type"):
    seqs: list[int]


_decode_fix = jsonin.Decoder(msgspec.json.Decoder(_Fix)).decode  # as the server reads frames
_encode = msgspec.json.Encoder().encode


def _position(fix: _Fix) -> bytes:
    at = datetime.fromtimestamp(fix.t / 1000, UTC)
    eta_at = at + timedelta(minutes=7)
    eta = EtaView(
        eta_at.isoformat(), 420, 4_200,
        [(eta_at - timedelta(minutes=2)).isoformat(), (eta_at + timedelta(minutes=3)).isoformat()],
        "high", None,
    )  # fmt: skip
    return _encode(
        PositionMessage(Position(fix.lat, fix.lon, at, fix.speed, None, fix.acc), eta, 0)
    )


def relay_app() -> Starlette:
    """Couriers on `/ws/driver?token=K`, the customer of courier K on `/ws/track/K`, dispatchers
    on `/ws/fleet` (held open, sent nothing: the real fleet feed is a delta a second)."""
    watching: dict[str, DirectSocket] = {}

    async def courier(ws: WebSocket) -> None:
        key = ws.query_params.get("token", "")
        await ws.accept()
        sock = direct_socket(ws)

        def on_frame(data: bytes) -> None:
            fix = _decode_fix(data)
            sock.send_now(_encode(_Ack([fix.seq])))
            watcher = watching.get(key)
            if watcher is not None:
                watcher.send_now(_position(fix))

        sock.listen(on_frame)
        await sock.closed()

    async def watcher(ws: WebSocket) -> None:
        key = ws.path_params.get("key", "")
        await ws.accept()
        sock = direct_socket(ws)
        if key:
            watching[key] = sock
        sock.listen(lambda data: None)
        try:
            await sock.closed()
        finally:
            if watching.get(key) is sock:
                del watching[key]

    return Starlette(
        routes=[
            WebSocketRoute("/ws/driver", courier),
            WebSocketRoute("/ws/track/{key}", watcher),
            WebSocketRoute("/ws/fleet", watcher),
        ]
    )


async def serve(spec: dict[str, Any]) -> dict[str, Any]:
    """The relay worker: serve on an ephemeral port until stdin closes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)  # as the real server's (server/bench/target.py)
    config = uvicorn.Config(
        relay_app(),
        fd=sock.fileno(),
        loop="uvloop",
        http=GatedHttp,  # TCP_NODELAY and the head deadline, as the real server's
        ws=DirectSocket,
        ws_max_size=spec.get("max_frame_bytes", 65_536),
        ws_per_message_deflate=False,  # as the real server (server/serve.py)
        lifespan="off",
        log_level="warning",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers no event for it
        if task.done():
            await task  # it failed: say why
        await asyncio.sleep(0.01)
    print(json.dumps({"ready": True, "port": sock.getsockname()[1]}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await task
    sock.close()
    return {}


async def floor_ramp(
    steps: list[int], step_seconds: float, load_processes: int = 2
) -> dict[str, Any]:
    """The sockets ramp's load (N couriers at 1 fix/s, a customer each, a dispatcher)
    against one relay, step after step, as the real ramp runs against one server; the
    relay's CPU per fix, counted as the real ramp counts it (the connect storm included).
    Past ~9,990 couriers the relay runs out of this machine's 20,000 descriptors."""
    report: dict[str, Any] = {"steps": []}
    print(f"-- the floor: a relay, no pipeline\n{HEADER}", file=sys.stderr, flush=True)
    relay = await worker("relay", {})
    try:
        port = (await relay.line())["port"]
        proc = psutil.Process(relay.process.pid)
        for n in steps:
            step = await _floor_step(f"ws://127.0.0.1:{port}", proc, n, step_seconds,
                                     load_processes)  # fmt: skip
            report["steps"].append(asdict(step))
            print(row(step), file=sys.stderr, flush=True)
            us = step.stage_us
            print(f"{'':9}µs per fix: cpu {us['cpu']} = user {us['user']} + system {us['system']}",
                  file=sys.stderr, flush=True)  # fmt: skip
            print(machine_line(step), file=sys.stderr, flush=True)
            if step.acked < step.sent:  # saturated: a bigger step says nothing more
                break
    finally:
        await relay.finish()
    return report


def _courier_spec(
    ws_url: str, keys: list[str], measure_from: float, step_seconds: float
) -> dict[str, Any]:
    return {
        "ws_url": ws_url, "tokens": keys, "starts": [[11.9, 50.3] for _ in keys],
        "driver_ids": list(range(len(keys))), "rate_hz": 1.0, "t0": time.time(),
        "measure_from": measure_from, "seconds": step_seconds + (measure_from - time.time()),
    }  # fmt: skip


async def _floor_step(
    ws_url: str, proc: psutil.Process, n: int, step_seconds: float, load_processes: int
) -> Step:
    keys = [str(i) for i in range(n)]
    watchers = await worker("watchers", {
        "ws_url": ws_url, "codes": keys, "dispatchers": 1, "admin_token": "-",
        "seconds": step_seconds,
    })  # fmt: skip
    await watchers.line()
    measure_from = time.time() + WARMUP_S + n / 500
    await watchers.send({"measure_from": measure_from})
    shares = [list(range(p, n, load_processes)) for p in range(load_processes)]
    cpu_shares = Shares(watchers.process.pid)
    cpu_before = proc.cpu_times()
    wall_before = time.perf_counter()
    couriers = [
        await worker(
            "couriers", _courier_spec(ws_url, [keys[i] for i in share], measure_from, step_seconds)
        )
        for share in shares
        if share
    ]
    results = [await c.result() for c in couriers]
    cpu_after = proc.cpu_times()
    wall = time.perf_counter() - wall_before
    rss_mib = proc.memory_info().rss / 2**20
    load_cpu_pct, database_cpu_pct = cpu_shares.settle(results, wall)
    step = courier_step(n, results, await watchers.finish())
    step.load_cpu_pct, step.database_cpu_pct = load_cpu_pct, database_cpu_pct
    used_s = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    step.server_cpu_pct = round(100 * used_s / wall, 1)
    step.server_rss_mib = round(rss_mib, 1)
    handled = max(1, step.acked)
    step.stage_us = {
        "cpu": round(1e6 * used_s / handled, 1),
        "user": round(1e6 * (cpu_after.user - cpu_before.user) / handled, 1),
        "system": round(1e6 * (cpu_after.system - cpu_before.system) / handled, 1),
    }
    return step
