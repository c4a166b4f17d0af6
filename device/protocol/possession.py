"""Proof of possession: the device shows it holds the private half of the key it registers.

`powerpermit-device init` and `powerpermit-device prove` print one; the manager submits it
with `registerDevice`. Without it anyone could register a key they do not hold (the
server's own permit key, another device's key), and the server would then take receipts
signed by that key as this device's word.

A proof is a tagged COSE_Sign1 (no CWT tag: nobody presents it to a device) signed by the
device key, protected header `alg` EdDSA and `kid` the device key's id, payload a CBOR map
keyed by `ProofField`: the device id, the raw public key, the purpose
"powerpermit-register" (so no other signed device message can stand in for it) and `iat`.
The server verifies it with the submitted key and refuses a proof for another device id
or another key, one that is too old, or one from the future.
"""

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from device.protocol.errors import (
    Expired,
    Malformed,
    NotYetValid,
    UnknownKey,
    WrongDevice,
)
from device.protocol.keys import SigningKey, raw_public
from device.protocol.signed import open_key_signed, sign_map

PURPOSE = "powerpermit-register"
MAX_PROOF_SIZE = 512
MAX_AGE_S = 24 * 3600  # run `powerpermit-device prove` for a fresh one
FUTURE_SKEW_S = 300


class ProofField(IntEnum):
    DEVICE_ID = 1
    PUBLIC_KEY = 2
    PURPOSE = 3
    ISSUED_AT = 4


@dataclass(frozen=True)
class Possession:
    device_id: str
    public_key: bytes  # raw Ed25519, 32 bytes
    issued_at: int


def prove_possession(device_id: str, key: SigningKey, issued_at: int) -> bytes:
    fields = {
        ProofField.DEVICE_ID.value: device_id,
        ProofField.PUBLIC_KEY.value: raw_public(key.public_key),
        ProofField.PURPOSE.value: PURPOSE,
        ProofField.ISSUED_AT.value: issued_at,
    }
    return sign_map(fields, key)


def verify_possession(
    data: bytes,
    *,
    device_id: str,
    public_key: ed25519.Ed25519PublicKey,
    now: int,
    max_age_s: int = MAX_AGE_S,
) -> Possession:
    """The proof's claims, once it is shown to be signed by `public_key` for `device_id`."""
    proof = _claims(open_key_signed(data, public_key, max_size=MAX_PROOF_SIZE, what="the proof"))
    if proof.public_key != raw_public(public_key):
        raise UnknownKey("the proof names another key than the one registered")
    if proof.device_id != device_id:
        raise WrongDevice(f"the proof is for device {proof.device_id!r}, not {device_id!r}")
    if proof.issued_at > now + FUTURE_SKEW_S:
        raise NotYetValid("the proof is dated in the future")
    if proof.issued_at < now - max_age_s:
        raise Expired(f"the proof is older than {max_age_s // 3600} h")
    return proof


def _claims(fields: Any) -> Possession:
    if not isinstance(fields, dict) or fields.get(ProofField.PURPOSE) != PURPOSE:
        raise Malformed(f"not a {PURPOSE} proof")
    device_id = fields.get(ProofField.DEVICE_ID)
    public_key = fields.get(ProofField.PUBLIC_KEY)
    issued_at = fields.get(ProofField.ISSUED_AT)
    if not isinstance(device_id, str) or not isinstance(public_key, bytes):
        raise Malformed("a proof needs a device id and a public key")
    if not isinstance(issued_at, int) or isinstance(issued_at, bool):
        raise Malformed("a proof needs an integer iat")
    return Possession(device_id, public_key, issued_at)
