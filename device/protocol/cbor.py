"""Bounded CBOR decoding: walk the item heads before cbor2 builds any object.

The walk rejects indefinite lengths, deep nesting, lengths that run past the input,
trailing bytes, non-shortest heads, tags outside the caller's allow-list and maps with
duplicate or non-integer, non-text keys, so nothing downstream (cbor2, signature maths)
sees unbounded or ambiguous input. Map keys and lengths have exactly one encoding each,
so two keys are equal exactly when their bytes are.
"""

from typing import Any

import cbor2

from device.protocol.errors import Malformed, TooLarge

MAX_DEPTH = 6
NO_TAGS: frozenset[int] = frozenset()

_KEY_MAJORS = (0, 1, 3)  # unsigned, negative, text: the label types COSE and CWT use
_MIN_FOR_WIDTH = {1: 24, 2: 0x100, 4: 0x10000, 8: 0x100000000}


def loads(
    data: bytes,
    *,
    max_size: int,
    max_depth: int = MAX_DEPTH,
    tags: frozenset[int] = NO_TAGS,
) -> Any:
    """Decode exactly one CBOR item of at most `max_size` bytes; only `tags` may appear."""
    if len(data) > max_size:
        raise TooLarge(f"{len(data)} bytes exceeds the {max_size}-byte bound")
    end = _skip_item(data, 0, 0, max_depth, tags)
    if end != len(data):
        raise Malformed(f"{len(data) - end} trailing bytes after the CBOR item")
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as err:
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
    arg = int.from_bytes(data[pos : pos + width], "big")
    if major != 7 and arg < _MIN_FOR_WIDTH[width]:
        raise Malformed("CBOR head is not in its shortest form")
    return major, arg, pos + width


def _skip_item(data: bytes, pos: int, depth: int, max_depth: int, tags: frozenset[int]) -> int:
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
        if arg not in tags:
            raise Malformed(f"CBOR tag {arg} is not expected here")
        return _skip_item(data, pos, depth + 1, max_depth, tags)
    if major == 4:
        if arg > len(data) - pos:
            raise Malformed("CBOR array claims more items than bytes remain")
        for _ in range(arg):
            pos = _skip_item(data, pos, depth + 1, max_depth, tags)
        return pos
    if 2 * arg > len(data) - pos:
        raise Malformed("CBOR map claims more items than bytes remain")
    keys = set()
    for _ in range(arg):
        start = pos
        if pos < len(data) and data[pos] >> 5 not in _KEY_MAJORS:
            raise Malformed("CBOR map keys must be integers or text strings")
        pos = _skip_item(data, pos, depth + 1, max_depth, tags)
        keys.add(data[start:pos])
        pos = _skip_item(data, pos, depth + 1, max_depth, tags)
    if len(keys) != arg:
        raise Malformed("CBOR map has a duplicate key")
    return pos
