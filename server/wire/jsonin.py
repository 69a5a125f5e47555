"""The one way client JSON is decoded: nesting checked before msgspec sees it, and text
checked for what PostgreSQL cannot store.

msgspec decodes nested arrays and objects recursively and raises RecursionError a few
hundred levels down (how far depends on the caller's stack), which no `except
msgspec.DecodeError` catches: a frame of `[[[[…` was a dropped connection or a 500. No
message of ours nests deeper than a handful of levels, so anything beyond `MAX_DEPTH` is
refused first, by a linear scan in C (bytes.count, translate, numpy's cumsum), as a
`TooDeep`, which is a `msgspec.DecodeError` and so lands where every other malformed
input does. Sizes are bounded where bodies and frames are read (`read_body`, the
socket's frame limit), before this.

msgspec already refuses raw control characters and lone surrogates in JSON strings, but
not the escapes `\\u0000`..`\\u001f`: PostgreSQL's text and jsonb refuse NUL, and the other
C0 controls have no business in a name or an address. `control_char_path` finds them in a
decoded value and says where.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Generic, TypeVar

import msgspec
import numpy

MAX_DEPTH = 32  # arrays/objects inside each other; our deepest message uses 5

T = TypeVar("T")

_NOT_MARKS = bytes(b for b in range(256) if b not in b'[]{}"')
_TO_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # read as signed: +1, -1
# C0 controls but tab, newline and carriage return (which notes and addresses may hold).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


_TOO_DEEP = f"JSON nested deeper than {MAX_DEPTH} levels"


class TooDeep(msgspec.DecodeError):
    """JSON nested deeper than MAX_DEPTH."""


def _brackets_outside_strings(data: bytes) -> bytes:
    """The brackets of `data` that are not inside a JSON string, in order.

    >>> _brackets_outside_strings(rb'{"a\\\\": "[\\"]", "b": [1]}')
    b'{[]}'
    """
    if b"\\" in data:  # escapes pair up left to right; after that no quote is escaped
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Brackets and quotes only; two quotes side by side enclose no bracket (a string, or
    # the gap between two), so they go in one C pass and few strings are left to split.
    marks = data.translate(None, _NOT_MARKS).replace(b'""', b"")
    return b"".join(marks.split(b'"')[::2]) if b'"' in marks else marks


def _max_depth(brackets: bytes) -> int:
    """How deep the brackets nest: the highest running sum of +1 (open) and -1 (close),
    summed by numpy (a 256 KiB frame of `[]`: 3 ms, against 12 ms with itertools).

    >>> _max_depth(b"[{}[[]]]"), _max_depth(b"")
    (3, 0)
    """
    if not brackets:
        return 0
    steps = numpy.frombuffer(brackets.translate(_TO_STEPS), dtype=numpy.int8)
    return int(steps.cumsum(dtype=numpy.int32).max())


def check_depth(data: bytes | str) -> None:
    """Raise TooDeep when `data` nests arrays/objects deeper than MAX_DEPTH.

    >>> check_depth(b'{"a": [[1, 2], {"b": "[[[[["}]}')
    >>> check_depth(b"[" * 33 + b"]" * 33)
    Traceback (most recent call last):
    ...
    server.wire.jsonin.TooDeep: JSON nested deeper than 32 levels
    """
    if isinstance(data, str):
        if data.count("[") + data.count("{") <= MAX_DEPTH:
            return
        data = data.encode("utf-8", "surrogatepass")
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return  # the usual case: too few brackets to be too deep, whatever their order
    if _max_depth(_brackets_outside_strings(data)) > MAX_DEPTH:
        raise TooDeep(_TOO_DEEP)


class Decoder(Generic[T]):
    """A msgspec JSON decoder for client bytes, behind the depth check."""

    __slots__ = ("_decode",)

    def __init__(self, decoder: msgspec.json.Decoder[T]) -> None:
        self._decode = decoder.decode

    def decode(self, data: bytes | str | msgspec.Raw) -> T:
        if not isinstance(data, msgspec.Raw):  # a Raw is part of a document decoded here
            check_depth(data)
        try:
            return self._decode(data)
        except RecursionError:  # not below MAX_DEPTH; but never a dropped connection
            raise TooDeep(_TOO_DEEP) from None


def decode(data: bytes | str, kind: type[T]) -> T:
    """`msgspec.json.decode(data, type=kind)` for client bytes, behind the depth check."""
    check_depth(data)
    try:
        return msgspec.json.decode(data, type=kind)
    except RecursionError:
        raise TooDeep(_TOO_DEEP) from None


def has_control_char(text: str) -> bool:
    return _CONTROL.search(text) is not None


def control_char_path(value: Any, path: str = "") -> str | None:
    """Where in a decoded value a string (or key) holds a control character, or None.

    >>> control_char_path({"customer": {"name": "Cleo"}, "tags": ["a", "b\\x00"]})
    'tags[1]'
    >>> control_char_path("fine\\ttext\\n") is None
    True
    """
    if isinstance(value, str):
        return (path or "$") if _CONTROL.search(value) else None
    if isinstance(value, msgspec.Struct):
        for name, json_name in zip(
            value.__struct_fields__, value.__struct_encode_fields__, strict=True
        ):
            found = control_char_path(
                getattr(value, name), f"{path}.{json_name}" if path else json_name
            )
            if found is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            key_path = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _CONTROL.search(key):
                return key_path
            found = control_char_path(item, key_path)
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = control_char_path(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


MAX_ATTRIBUTES = 64  # protocol extras kept with one fix; the apps send about a dozen


def storable_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """Protocol extras without those that hold control characters (jsonb refuses NUL),
    and at most MAX_ATTRIBUTES of them: the position is worth keeping, a broken or
    runaway attribute is not.

    >>> storable_attributes({"tid": "a\\x00", "conn": "w", "n": 3})
    {'conn': 'w', 'n': 3}
    """
    if not attributes:
        return {}
    kept = dict(itertools.islice(attributes.items(), MAX_ATTRIBUTES))
    # The usual extras are flat (names to numbers, flags and short texts): one search over
    # all their text says whether any holds a control character (a C0 control found in the
    # joined text is in one of them: the separator is none).
    texts = [k for k in kept if isinstance(k, str)]
    for value in kept.values():
        if isinstance(value, str):
            texts.append(value)
        elif not (value is None or isinstance(value, (bool, int, float))):
            break  # nested: each checked alone below
    else:
        if _CONTROL.search(" ".join(texts)) is None:
            return kept
    return {k: v for k, v in kept.items() if control_char_path({k: v}) is None}
