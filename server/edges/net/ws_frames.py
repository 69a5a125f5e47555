"""Text frames, both ways, for the common case only (RFC 6455, 5.2).

Out: the header of a server's text frame, for `DirectSocket.send_now`: FIN and opcode 1,
then the payload length in 7 bits, or 126 and 16 bits, or 127 and 64 bits; a server's
frames carry no mask.

>>> text_head(5), text_head(300)[:2], len(text_head(70_000))
(b'\\x81\\x05', b'\\x81~', 10)

In: `whole_text_frames` takes the complete, final, masked text frames at the front of what
a client sent, for `DirectSocket.data_received`. A courier's fix is one such frame of
about a hundred bytes, and going through websockets' parser (a generator per frame, a
Frame object, uvicorn's event dispatch) cost more than decoding the fix. It stops at the
first frame that is anything else (a control frame, a fragment, unmasked, reserved bits,
a 64-bit length, over `max_size`, or incomplete) and leaves it and everything after it to
websockets, which judges it as always.

>>> masked = bytes((0x81, 0x80 | 2)) + bytes(4) + b"hi"  # a zero mask leaves "hi" as is
>>> whole_text_frames(masked + masked + masked[:3], None)
([b'hi', b'hi'], 16)
>>> whole_text_frames(bytes((0x88, 0x80)) + bytes(4), None)  # a close frame: not ours
([], 0)
"""

from __future__ import annotations

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension: the same, in Python
    from websockets.utils import apply_mask

_FIN_TEXT = 0x81
_HEAD_16 = bytes((_FIN_TEXT, 126))
_HEAD_64 = bytes((_FIN_TEXT, 127))
_MASKED = 0x80
_LENGTH_16 = 126
_MIN_FRAME = 6  # two header bytes and the mask


def text_head(size: int) -> bytes:
    if size < 126:
        return bytes((_FIN_TEXT, size))
    if size < 65536:
        return _HEAD_16 + size.to_bytes(2, "big")
    return _HEAD_64 + size.to_bytes(8, "big")


def whole_text_frames(data: bytes, max_size: int | None) -> tuple[list[bytes], int]:
    """The unmasked payloads of the whole, final, masked text frames at the front of
    `data` (each at most `max_size` bytes; None: no limit), and how many bytes they
    took. Payloads are not checked for UTF-8 here."""
    payloads: list[bytes] = []
    at, end = 0, len(data)
    while end - at >= _MIN_FRAME and data[at] == _FIN_TEXT:
        second = data[at + 1]
        if not second & _MASKED:
            break
        size = second & 0x7F
        mask_at = at + 2
        if size == _LENGTH_16:
            size = int.from_bytes(data[mask_at : mask_at + 2], "big")
            mask_at += 2
            if size < _LENGTH_16:  # not the shortest form: websockets' to judge
                break
        elif size > _LENGTH_16:
            break
        if max_size is not None and size > max_size:
            break
        stop = mask_at + 4 + size
        if stop > end:
            break
        payloads.append(apply_mask(data[mask_at + 4 : stop], data[mask_at : mask_at + 4]))
        at = stop
    return payloads, at
