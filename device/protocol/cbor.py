"""Bounded CBOR decoding: walk the item heads before cbor2 builds any object.

The walk rejects indefinite lengths, deep nesting, lengths that run past the input and
trailing bytes, so nothing downstream (cbor2, signature maths) sees unbounded input.
"""

from typing import Any

import cbor2

from device.protocol.errors import Malformed, TooLarge

MAX_DEPTH = 6


def loads(data: bytes, *, max_size: int, max_depth: int = MAX_DEPTH) -> Any:
    """Decode exactly one CBOR item of at most `max_size` bytes."""
    if len(data) > max_size:
        raise TooLarge(f"{len(data)} bytes exceeds the {max_size}-byte bound")
    end = _skip_item(data, 0, 0, max_depth)
    if end != len(data):
        raise Malformed(f"{len(data) - end} trailing bytes after the CBOR item")
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as err:
        raise Malformed(f"undecodable CBOR: {err}") from err


def _read_head(data: bytes, pos: int) -> tuple[int, int, int]:
    """Return (major type, argument, position after the head)."""
    if pos >= len(data):
        raise Malformed("CBOR item truncated")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if info < 24:
        return major, info, pos
    if info == 31:
        raise Malformed("indefinite-length CBOR is not accepted")
    if info > 27:
        raise Malformed("reserved CBOR additional information")
    width = 1 << (info - 24)
    if pos + width > len(data):
        raise Malformed("CBOR head truncated")
    return major, int.from_bytes(data[pos : pos + width], "big"), pos + width


def _skip_item(data: bytes, pos: int, depth: int, max_depth: int) -> int:
    if depth > max_depth:
        raise Malformed(f"CBOR nested deeper than {max_depth}")
    major, arg, pos = _read_head(data, pos)
    if major in (0, 1, 7):
        return pos
    if major in (2, 3):
        if arg > len(data) - pos:
            raise Malformed("CBOR string runs past the end of the input")
        return pos + arg
    if major == 6:
        return _skip_item(data, pos, depth + 1, max_depth)
    count = arg if major == 4 else 2 * arg
    if count > len(data) - pos:
        raise Malformed("CBOR container claims more items than bytes remain")
    for _ in range(count):
        pos = _skip_item(data, pos, depth + 1, max_depth)
    return pos
