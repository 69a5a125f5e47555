"""The direct lane's reading of whole text frames (server/edges/net/ws_frames.py) agrees
with websockets' own parser: it takes exactly the leading frames that are whole, final,
masked text frames within the size limit, with the same payloads, and leaves the rest."""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN
from websockets.server import ServerProtocol

from server.edges.net.ws_frames import whole_text_frames


@dataclass(frozen=True)
class Wire:
    opcode: int
    fin: bool
    masked: bool
    rsv: int
    payload: bytes
    long_length: bool  # the 16-bit form even when 7 bits would do

    def encode(self) -> bytes:
        head = bytes([(0x80 if self.fin else 0) | (self.rsv << 4) | self.opcode])
        size = len(self.payload)
        mask_bit = 0x80 if self.masked else 0
        if size < 126 and not self.long_length:
            head += bytes([mask_bit | size])
        else:
            head += bytes([mask_bit | 126]) + size.to_bytes(2, "big")
        if not self.masked:
            return head + self.payload
        mask = os.urandom(4)
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(self.payload))

    def ours(self, max_size: int | None) -> bool:
        """What the fast path may take."""
        size = len(self.payload)
        return (
            self.opcode == 1 and self.fin and self.masked and self.rsv == 0
            and (size >= 126 or not self.long_length)
            and (max_size is None or size <= max_size)
        )  # fmt: skip


text = st.text(max_size=200).map(str.encode)
wires = st.builds(
    Wire,
    opcode=st.sampled_from([1, 1, 1, 2, 0, 9, 10]),
    fin=st.booleans() | st.just(True),
    masked=st.booleans() | st.just(True),
    rsv=st.sampled_from([0, 0, 0, 4]),
    payload=text | st.binary(max_size=300),
    long_length=st.booleans(),
)


def parsed_by_websockets(data: bytes) -> list[Frame]:
    server = ServerProtocol(max_size=None)
    server.state = OPEN  # past the handshake: a parser for frames
    server.parser = server.parse()
    next(server.parser)
    server.receive_data(data)
    assert server.parser_exc is None
    return [e for e in server.events_received() if isinstance(e, Frame)]


@settings(max_examples=500)
@given(st.lists(wires, max_size=6), st.integers(0, 10_000), st.sampled_from([None, 100]))
def test_it_takes_the_leading_whole_text_frames_as_websockets_reads_them(
    frames: list[Wire], cut: int, max_size: int | None
) -> None:
    encoded = [w.encode() for w in frames]
    data = b"".join(encoded)
    data = data[: min(cut, len(data))]  # the read may end anywhere

    payloads, used = whole_text_frames(data, max_size)

    expected, at = [], 0
    for wire, raw in zip(frames, encoded, strict=True):
        if not wire.ours(max_size) or at + len(raw) > len(data):
            break
        expected.append(wire.payload)
        at += len(raw)
    assert payloads == expected and used == at
    # websockets reads the same messages from the bytes taken.
    read = parsed_by_websockets(data[:used])
    assert [(f.opcode, f.fin, f.data) for f in read] == [(Opcode.TEXT, True, p) for p in payloads]


def test_a_frame_cut_in_its_length_or_mask_is_left_whole() -> None:
    wire = Wire(1, True, True, 0, b"x" * 300, long_length=False).encode()
    for cut in range(len(wire)):
        assert whole_text_frames(wire[:cut], None) == ([], 0)
    assert whole_text_frames(wire, None) == ([b"x" * 300], len(wire))


def test_what_websockets_must_judge_is_left_to_it() -> None:
    whole = Wire(1, True, True, 0, b"fix", long_length=False).encode()
    for wire in (
        Wire(1, True, False, 0, b"unmasked text", long_length=False),  # a protocol error
        Wire(1, False, True, 0, b"a fragment", long_length=False),
        Wire(1, True, True, 4, b"reserved bit", long_length=False),
        Wire(2, True, True, 0, b"binary", long_length=False),
        Wire(9, True, True, 0, b"ping", long_length=False),
        Wire(1, True, True, 0, b"short", long_length=True),  # not the shortest length
    ):
        assert whole_text_frames(whole + wire.encode() + whole, None) == ([b"fix"], len(whole))
    big = Wire(1, True, True, 0, b"x" * 101, long_length=False).encode()
    assert whole_text_frames(whole + big, 100) == ([b"fix"], len(whole))
    long_form = b"\x81\xff" + (3).to_bytes(8, "big") + bytes(4) + b"abc"  # a 64-bit length
    assert whole_text_frames(long_form + whole * 20, None) == ([], 0)
