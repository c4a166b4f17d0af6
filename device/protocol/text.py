"""The text form of a permit for QR codes and copy/paste: `PP1:` + base45 (RFC 9285).

Base45 keeps to the QR alphanumeric alphabet, so the whole string encodes in the dense
alphanumeric mode. No zlib: a signed permit is mostly random bytes and does not shrink.
"""

import struct
from functools import cache

import base45

from device.protocol.errors import Malformed, TooLarge

PREFIX = "PP1:"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def to_text(data: bytes) -> str:
    """Every pair of bytes becomes three characters looked up in one table.

    The server writes this form into every answer that carries a permit; the `base45`
    package's per-digit arithmetic took ~50 µs a permit, the table ~5 µs. Decoding, which
    the device does, stays with the package (and tests check both agree).
    """
    pairs = len(data) // 2
    table = _triples()
    parts = [table[n] for n in struct.unpack(f">{pairs}H", data[: pairs * 2])]
    if len(data) % 2:
        last = data[-1]
        parts.append(ALPHABET[last % 45] + ALPHABET[last // 45])
    return PREFIX + "".join(parts)


@cache
def _triples() -> tuple[str, ...]:
    """The three characters for each 16-bit value: least significant digit first."""
    return tuple(
        ALPHABET[n % 45] + ALPHABET[n // 45 % 45] + ALPHABET[n // 2025] for n in range(65536)
    )


def from_text(text: str, *, max_bytes: int) -> bytes:
    text = text.strip()
    if not text.startswith(PREFIX):
        raise Malformed(f"text form must start with {PREFIX}")
    body = text[len(PREFIX) :]
    if len(body) > (max_bytes * 3) // 2 + 3:
        raise TooLarge("text form longer than any permit")
    try:
        return bytes(base45.b45decode(body))
    except (ValueError, KeyError, TypeError) as err:
        raise Malformed("text form is not valid base45") from err


def looks_like_text(data: bytes) -> bool:
    return data.lstrip()[:4] == PREFIX.encode("ascii")
