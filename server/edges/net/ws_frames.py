"""The header of a server's text frame (RFC 6455, 5.2), for `DirectSocket.send_now`:
FIN and opcode 1, then the payload length in 7 bits, or 126 and 16 bits, or 127 and 64
bits; a server's frames carry no mask.

>>> text_head(5), text_head(300)[:2], len(text_head(70_000))
(b'\\x81\\x05', b'\\x81~', 10)
"""

from __future__ import annotations

_FIN_TEXT = 0x81
_HEAD_16 = bytes((_FIN_TEXT, 126))
_HEAD_64 = bytes((_FIN_TEXT, 127))


def text_head(size: int) -> bytes:
    if size < 126:
        return bytes((_FIN_TEXT, size))
    if size < 65536:
        return _HEAD_16 + size.to_bytes(2, "big")
    return _HEAD_64 + size.to_bytes(8, "big")
