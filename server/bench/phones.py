"""The phone-app load generator of `tracker bench` (the `phones` worker role): each device
keeps one HTTP/1.1 keep-alive connection with one request in flight, as Traccar Client and
OwnTracks do, and sends its fixes on an open-loop schedule.

Open loop: request k of a device is due at `start + phase + k / rate`, whatever the server
did with request k - 1; a request that goes out late (the previous one was still in
flight) has its latency measured from when it was due, so a slow server cannot hide its
queue by slowing the load down (coordinated omission).

Even devices speak OwnTracks (`POST /owntracks`, JSON, the token as Basic-auth password),
odd ones OsmAnd, alternating query-string and form-body requests. Times are epoch
milliseconds, distinct per device, so every answered fix can be looked up in the database.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from server.bench.worker import position

ANSWER_TIMEOUT_S = 30.0  # a request not answered by then is the bench's error
BEHIND_LIMIT_S = 10.0  # a device this far behind its schedule stops: the rest go unsent
MAX_HEADER_BYTES = 64 * 1024


@dataclass
class Device:
    device_id: str
    token: str
    driver_id: int
    start: list[float]
    owntracks: bool


@dataclass
class Tally:
    due: int = 0  # requests scheduled before the end, sent or not
    sent: int = 0
    ok: int = 0  # answered 200 with nothing rejected
    rejected: int = 0  # answered 200 with X-Tracker-Rejected (OwnTracks only says it)
    errors: int = 0  # any other status, or no answer
    error_kinds: dict[str, int] = field(default_factory=dict)  # "503", "timeout", ...
    latencies_ms: list[float] = field(default_factory=list)
    last_answer_at: float = 0.0  # epoch s
    ok_times: dict[int, list[int]] = field(default_factory=dict)  # driver -> epoch ms

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


def owntracks_request(host: str, device: Device, t_ms: int, lon: float, lat: float) -> bytes:
    body = json.dumps(
        {"_type": "location", "tid": "bp", "tst": round(t_ms / 1000, 3), "lat": round(lat, 7),
         "lon": round(lon, 7), "acc": 8, "alt": 480, "vel": 36, "cog": 90, "batt": 80,
         "conn": "m", "t": "u"}
    ).encode()  # fmt: skip
    credentials = base64.b64encode(f"{device.device_id}:{device.token}".encode()).decode()
    head = (
        f"POST /owntracks HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {credentials}\r\n"
        f"X-Limit-U: {device.device_id}\r\nX-Limit-D: phone\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def osmand_request(host: str, device: Device, t_ms: int, lon: float, lat: float, k: int) -> bytes:
    params = urlencode(
        {"id": device.device_id, "timestamp": t_ms, "lat": f"{lat:.7f}", "lon": f"{lon:.7f}",
         "speed": "19.4", "bearing": "90", "altitude": "480", "accuracy": "8", "batt": "80"}
    )  # fmt: skip
    if k % 2 == 0:  # Traccar Client: the fix in the query string, an empty POST
        head = f"POST /osmand?{params} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n"
        return head.encode()
    body = params.encode()
    head = (
        f"POST /osmand HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, whether the answer names rejected fixes) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > MAX_HEADER_BYTES:
        raise ValueError("response head too long")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, rejected = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "x-tracker-rejected":
            rejected = True
    if length:
        await reader.readexactly(length)
    return status, rejected


async def run_device(
    url: str, device: Device, rate_hz: float, phase_s: float, spec: dict[str, Any], tally: Tally
) -> None:
    parts = urlsplit(url)
    host = parts.netloc
    try:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    except OSError as exc:
        tally.error(type(exc).__name__)
        return
    t0, end_at, measure_from = spec["t0"], spec["end_at"], spec["measure_from"]
    interval_s = 1.0 / rate_hz
    first_due = spec["start_at"] + phase_s
    count = max(0, math.ceil((end_at - first_due) / interval_s))
    tally.due += count
    last_ms = 0
    try:
        for k in range(count):
            due = first_due + k * interval_s
            wait_s = due - time.time()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            elif wait_s < -BEHIND_LIMIT_S:
                return
            t_ms = max(last_ms + 1, int(due * 1000))  # distinct per device, increasing
            last_ms = t_ms
            lon, lat = position(device.start, t_ms / 1000, t0)
            if device.owntracks:
                request = owntracks_request(host, device, t_ms, lon, lat)
            else:
                request = osmand_request(host, device, t_ms, lon, lat, k)
            writer.write(request)
            tally.sent += 1
            try:
                status, rejected = await asyncio.wait_for(read_answer(reader), ANSWER_TIMEOUT_S)
            except (TimeoutError, ValueError, asyncio.IncompleteReadError, OSError) as exc:
                tally.error(type(exc).__name__)
                return  # this connection's state is unknown: the device stops
            answered_at = time.time()
            tally.last_answer_at = max(tally.last_answer_at, answered_at)
            if due >= measure_from:
                tally.latencies_ms.append((answered_at - due) * 1000)
            if status != 200:
                tally.error(str(status))
            elif rejected:
                tally.rejected += 1
            else:
                tally.ok += 1
                tally.ok_times.setdefault(device.driver_id, []).append(t_ms)
    finally:
        writer.close()


async def phones(spec: dict[str, Any]) -> dict[str, Any]:
    """Spec: url, devices (each: device_id, token, driver_id, start, owntracks), rate_hz
    (per device), t0 (where the fleet's movement starts), start_at, measure_from, end_at
    (epoch seconds)."""
    devices = [Device(**d) for d in spec["devices"]]
    tally = Tally()
    rate_hz = float(spec["rate_hz"])
    await asyncio.gather(
        *(
            run_device(spec["url"], d, rate_hz, (i / len(devices)) / rate_hz, spec, tally)
            for i, d in enumerate(devices)
        ),
        return_exceptions=False,
    )
    return {
        "due": tally.due,
        "last_answer_at": tally.last_answer_at,
        "sent": tally.sent,
        "ok": tally.ok,
        "rejected": tally.rejected,
        "errors": tally.errors,
        "error_kinds": tally.error_kinds,
        "latencies_ms": [round(v, 3) for v in tally.latencies_ms],
        "ok_times": tally.ok_times,
    }
