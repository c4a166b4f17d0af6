"""Signed CBOR maps: the one way receipts, lists, acknowledgements and proofs are made and read.

Every such message is a tagged COSE_Sign1 (never the CWT tag) with EdDSA in its protected
header, whose payload is a CBOR map. Reading one checks the size, the algorithm, the key and
the signature before any payload byte is decoded; the caller then checks the fields.
"""

from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ed25519

from device.protocol import cbor
from device.protocol.cose import Alg, Sign1, decode_sign1, sign1_ed25519, verify_signature
from device.protocol.errors import UnknownKey, UnsupportedAlgorithm
from device.protocol.keys import SigningKey, TrustList, key_id


def sign_map(fields: dict[int, Any], key: SigningKey) -> bytes:
    return sign1_ed25519(cbor2.dumps(fields), key.private_key, key.kid)


def open_server_signed(data: bytes, trust: TrustList, *, max_size: int, max_depth: int) -> Any:
    """The payload of a message signed by one of the server keys `trust` holds."""
    message = _decode(data, max_size)
    verify_signature(message, trust.find(message.kid))
    return cbor.loads(message.payload, max_size=max_size, max_depth=max_depth)


def open_key_signed(
    data: bytes,
    public_key: ed25519.Ed25519PublicKey,
    *,
    max_size: int,
    max_depth: int = cbor.MAX_DEPTH,
    what: str,
) -> Any:
    """The payload of a message signed by exactly `public_key` (a device's own key)."""
    message = _decode(data, max_size)
    if message.kid != key_id(public_key):
        raise UnknownKey(f"{what} is signed by another key than the one registered")
    verify_signature(message, public_key)
    return cbor.loads(message.payload, max_size=max_size, max_depth=max_depth)


def _decode(data: bytes, max_size: int) -> Sign1:
    message = decode_sign1(data, max_size=max_size, allow_cwt_tag=False)
    if message.alg != Alg.EDDSA:
        raise UnsupportedAlgorithm(f"algorithm {message.alg} is not allowed")
    return message
