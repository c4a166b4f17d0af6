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

# Additional information 24..27: the argument's width, and the least value needing it.
_WIDTHS = (1, 2, 4, 8)
_LEAST = (24, 0x100, 0x10000, 0x100000000)


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


def _skip_item(data: bytes, pos: int, depth: int, max_depth: int, tags: frozenset[int]) -> int:
    """Return the position after the item at `pos`, checking every head on the way.

    Iterative (no recursion, whatever the input) and written for speed: it runs on every
    permit before the signature check. `depth` is the nesting level of the item at `pos`.
    """
    if depth > max_depth:
        raise Malformed(f"CBOR nested deeper than {max_depth}")
    try:
        return _walk(data, pos, depth, max_depth, tags)
    except IndexError as err:  # data[pos] past the end: the only index in the walk
        raise Malformed("CBOR item truncated") from err


def _walk(data: bytes, pos: int, depth: int, max_depth: int, tags: frozenset[int]) -> int:
    size = len(data)
    stack: list[tuple[int, set[bytes] | None]] = []
    remaining, keys = 1, None  # items left in the open container; its keys if it is a map
    while True:
        if not remaining:
            if not stack:
                return pos
            remaining, keys = stack.pop()
            depth -= 1
            continue
        remaining -= 1
        start = pos
        initial = data[pos]
        major, arg = initial >> 5, initial & 0x1F
        pos += 1
        if arg >= 24:
            if arg == 31:
                raise Malformed("indefinite-length CBOR is not accepted")
            if arg > 27:
                raise Malformed("reserved CBOR additional information")
            width = _WIDTHS[arg - 24]
            if pos + width > size:
                raise Malformed("CBOR head truncated")
            least = _LEAST[arg - 24]
            arg = data[pos] if width == 1 else int.from_bytes(data[pos : pos + width], "big")
            pos += width
            if arg < least and major != 7:
                raise Malformed("CBOR head is not in its shortest form")
        if keys is not None and remaining & 1:
            # A map key: integers and text only (the label types COSE and CWT use), unique.
            if major == 3:
                if arg > size - pos:
                    raise Malformed("CBOR string runs past the end of the input")
                pos += arg
            elif major > 1:
                raise Malformed("CBOR map keys must be integers or text strings")
            key = data[start:pos]
            if key in keys:
                raise Malformed("CBOR map has a duplicate key")
            keys.add(key)
        elif major < 2 or major == 7:
            pass
        elif major < 4:
            if arg > size - pos:
                raise Malformed("CBOR string runs past the end of the input")
            pos += arg
        else:
            if arg and depth >= max_depth:  # its items would sit deeper than allowed
                raise Malformed(f"CBOR nested deeper than {max_depth}")
            stack.append((remaining, keys))
            depth += 1
            if major == 4:
                if arg > size - pos:
                    raise Malformed("CBOR array claims more items than bytes remain")
                remaining, keys = arg, None
            elif major == 5:
                if 2 * arg > size - pos:
                    raise Malformed("CBOR map claims more items than bytes remain")
                remaining, keys = 2 * arg, set()
            else:
                if arg not in tags:
                    raise Malformed(f"CBOR tag {arg} is not expected here")
                remaining, keys = 1, None
