"""Deterministic keys, claims and a COSE_Sign1 builder that can produce anything, bad included.

The attack tests, the fuzzers and tests/vectors/generate.py share these, so every crafted
message is built one way. Nothing here is used by the device or the server.
"""

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ed25519

from device.protocol.cose import TAG_CWT, TAG_SIGN1, Alg, Header, sig_structure
from device.protocol.keys import SigningKey, TrustList, raw_public
from device.protocol.permit import PermitClaims

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z: every vector is verified at this instant
DEVICE_ID = "dev-3"
OTHER_DEVICE_ID = "dev-4"
PERMIT_ID = bytes.fromhex("5f0c6a1e9b3d47a28c11e0d2f4a6b7c8")

Signer = Callable[[bytes], bytes]


def seeded_key(label: str) -> SigningKey:
    seed = hashlib.sha256(f"powerpermit test key {label}".encode()).digest()
    return SigningKey(ed25519.Ed25519PrivateKey.from_private_bytes(seed))


SERVER_KEY = seeded_key("server")
OTHER_KEY = seeded_key("other")  # a well-formed key nobody trusts


def trust() -> TrustList:
    return TrustList([SERVER_KEY.public_key])


def claims(**changes: Any) -> PermitClaims:
    """A permit whose window [NOW - 10 min, NOW + 50 min) holds NOW, for DEVICE_ID."""
    base = PermitClaims(
        issuer="pp",
        user_id="u-17",
        device_id=DEVICE_ID,
        not_before=NOW - 600,
        expires_at=NOW + 3000,
        issued_at=NOW - 900,
        permit_id=PERMIT_ID,
        request_id="r-1024",
        max_energy_wh=22_000,
        max_power_w=11_000,
    )
    return replace(base, **changes)


def payload(permit_claims: PermitClaims | None = None) -> bytes:
    return cbor2.dumps((permit_claims or claims()).to_cbor_map())


def eddsa_protected(
    key: SigningKey = SERVER_KEY, extra: dict[Any, Any] | None = None
) -> dict[Any, Any]:
    return {Header.ALG.value: Alg.EDDSA.value, Header.KID.value: key.kid, **(extra or {})}


def ed25519_signer(key: SigningKey = SERVER_KEY) -> Signer:
    return key.private_key.sign


def hmac_signer(secret: bytes) -> Signer:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def public_key_bytes(key: SigningKey = SERVER_KEY) -> bytes:
    return raw_public(key.public_key)


def sign1(
    body: bytes | None = None,
    *,
    protected: dict[Any, Any] | None = None,
    unprotected: dict[Any, Any] | None = None,
    signer: Signer | None = None,
    signature: bytes | None = None,
    tags: tuple[int, ...] = (TAG_CWT, TAG_SIGN1),
) -> bytes:
    """A COSE_Sign1 with exactly these parts; signs the Sig_structure unless given `signature`."""
    body = payload() if body is None else body
    protected_bytes = cbor2.dumps(eddsa_protected() if protected is None else protected)
    if signature is None:
        signature = (signer or ed25519_signer())(sig_structure(protected_bytes, body))
    item: Any = [protected_bytes, unprotected or {}, body, signature]
    for tag in reversed(tags):
        item = cbor2.CBORTag(tag, item)
    return cbor2.dumps(item)


def nested_arrays(depth: int) -> bytes:
    return b"\x81" * depth + b"\x00"


def indefinite_permit() -> bytes:
    """The valid permit with its COSE_Sign1 array re-encoded with indefinite length."""
    valid = sign1()
    head = bytes([0xD8, TAG_CWT, 0xD2])
    assert valid[:4] == head + b"\x84"
    return head + b"\x9f" + valid[4:] + b"\xff"
