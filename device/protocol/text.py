"""The text form of a permit for QR codes and copy/paste: `PP1:` + base45 (RFC 9285).

Base45 keeps to the QR alphanumeric alphabet, so the whole string encodes in the dense
alphanumeric mode. No zlib: a signed permit is mostly random bytes and does not shrink.
"""

import base45

from device.protocol.errors import Malformed, TooLarge

PREFIX = "PP1:"


def to_text(data: bytes) -> str:
    encoded: bytes = base45.b45encode(data)
    return PREFIX + encoded.decode("ascii")


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
