"""A courier's frames reach the pipeline whole however its bytes are cut and framed: the
direct lane takes whole text frames itself (server/edges/net/ws_frames.py) and leaves the
rest to websockets' parser, and the two hand over without losing or repeating a byte."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import timedelta

import asyncpg

from server.base.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.harness import run_server


def frame(payload: bytes, opcode: int = 1, fin: bool = True, mask: bytes | None = None) -> bytes:
    """A client's frame (masked), as any browser would write it."""
    size = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    head += bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + size.to_bytes(2, "big")
    mask = os.urandom(4) if mask is None else mask
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def fix_frame(seq: int) -> bytes:
    t = now() - timedelta(seconds=60 - seq)
    return frame(json.dumps(fix(seq, t, 11.9 + seq * 1e-4, 50.3)).encode())


async def test_fixes_arrive_whole_however_the_bytes_are_cut(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server:
        _, token = await server.create_driver("Ana")
        courier = Courier(server.ws_url, token)
        await courier.connect(ping_interval=None)  # the test writes the raw bytes
        try:
            raw = courier.ws.transport
            third = fix_frame(3)
            # Two whole frames and the start of a third, cut inside its mask: the first
            # two are taken whole, the rest waits in websockets' parser...
            raw.write(fix_frame(1) + fix_frame(2) + third[:4])
            await courier.wait_acked({1, 2})
            # ...which reads the third from its middle on, and the fourth after it.
            raw.write(third[4:] + fix_frame(4))
            await courier.wait_acked({3, 4})
            # A message in two fragments with a ping between them, then a whole frame.
            message = json.dumps(fix(5, now() - timedelta(seconds=55), 11.9005, 50.3)).encode()
            raw.write(
                frame(message[:20], fin=False)
                + frame(b"are you there", opcode=9)
                + frame(message[20:], opcode=0)
                + fix_frame(6)
            )
            await courier.wait_acked({5, 6})
            assert courier.errors == [] and courier.rejected == {}

            # A text frame whose tail, read alone, looks like a whole frame of its own (a
            # fix, seq 99): cut there, that tail is the rest of a frame websockets' parser
            # holds the start of, and must go to it, not be read as a frame.
            fake = json.dumps(
                fix(99, now() - timedelta(seconds=50), 11.9, 50.3), separators=(",", ":")
            ).encode()
            assert len(fake) < 64  # its length byte, 0x80 | len, is a UTF-8 continuation
            # UTF-8 throughout: U+1040 + len, then four NULs (a zero mask), then the JSON.
            tail = bytes([0x81, 0x80 | len(fake)]) + bytes(4) + fake
            decoy = frame(b"\xe1" + tail, mask=bytes(4))
            cut = len(decoy) - len(tail)
            raw.write(fix_frame(7) + decoy[:cut])  # read together: 7's ack says so
            await courier.wait_acked({7})
            raw.write(decoy[cut:] + fix_frame(8))
            await courier.wait_acked({8})
            assert 99 not in courier.acked
            assert len(courier.errors) == 1  # the decoy itself: text, but not a fix
            # A whole text frame that is not UTF-8 closes the socket (1007), as before.
            raw.write(frame(b"\xff\xfe{}"))
            assert await courier.wait_closed() == 1007
        finally:
            await courier.close()


async def test_a_frame_over_the_size_limit_closes_the_socket(
    settings: Settings, db: asyncpg.Connection
) -> None:
    small = dataclasses.replace(settings, max_frame_bytes=1_000)
    async with run_server(small) as server:
        _, token = await server.create_driver("Bo")
        courier = Courier(server.ws_url, token)
        await courier.connect(ping_interval=None)
        try:
            courier.ws.transport.write(fix_frame(1))
            await courier.wait_acked({1})
            courier.ws.transport.write(frame(b" " * 1_001))
            assert await courier.wait_closed() == 1009  # websockets' judgement, as before
        finally:
            await courier.close()
