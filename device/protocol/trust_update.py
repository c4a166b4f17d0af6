"""Trust-list documents: the server's signed, sequence-numbered list of its permit keys.

When the server rotates its permit key, chargers learn the new key the way they learn of
revocations: the server signs a document naming one device, a sequence number and the full
list of server public keys that device should trust from now on; a phone carries it over
the local link. The device accepts it only when a key it trusts *today* signed it, it names
this device, and its sequence is higher than any it accepted before. The list replaces the
device's trust list whole: a key left out (a pruned one) is no longer trusted.
"""

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeGuard

from cryptography.hazmat.primitives.asymmetric import ed25519

from device.protocol.errors import Malformed, WrongDevice
from device.protocol.keys import SigningKey, TrustList, public_key_from_raw, raw_public
from device.protocol.signed import open_server_signed, sign_map

MAX_TRUSTED_KEYS = 8  # a few keys overlap during a rotation; more means something is wrong
MAX_TRUST_DOCUMENT_SIZE = 1024  # 8 keys of 34 bytes, a 64-character device id, COSE: ~470


class TrustField(IntEnum):
    DEVICE_ID = 1
    SEQUENCE = 2
    KEYS = 3  # raw 32-byte Ed25519 public keys; each key's kid is derived from it
    ISSUED_AT = 4


@dataclass(frozen=True)
class TrustListDocument:
    device_id: str
    sequence: int
    keys: tuple[ed25519.Ed25519PublicKey, ...]
    issued_at: int

    @property
    def trust(self) -> TrustList:
        return TrustList(self.keys)

    def to_cbor_map(self) -> dict[int, Any]:
        return {
            TrustField.DEVICE_ID.value: self.device_id,
            TrustField.SEQUENCE.value: self.sequence,
            TrustField.KEYS.value: [raw_public(k) for k in self.keys],
            TrustField.ISSUED_AT.value: self.issued_at,
        }

    @classmethod
    def from_cbor_map(cls, fields: Any) -> "TrustListDocument":
        if not isinstance(fields, dict):
            raise Malformed("trust-list document payload must be a map")
        device_id = fields.get(TrustField.DEVICE_ID)
        sequence = fields.get(TrustField.SEQUENCE)
        keys = fields.get(TrustField.KEYS)
        issued_at = fields.get(TrustField.ISSUED_AT)
        if not isinstance(device_id, str) or not _natural(issued_at):
            raise Malformed("trust-list document needs a device id and an issue time")
        if not _natural(sequence):
            raise Malformed("trust-list document sequence must be a non-negative integer")
        if (
            not isinstance(keys, list)
            or not 0 < len(keys) <= MAX_TRUSTED_KEYS
            or not all(isinstance(k, bytes) for k in keys)
        ):
            raise Malformed(f"trust-list document must name 1 to {MAX_TRUSTED_KEYS} keys")
        if len(set(keys)) != len(keys):
            raise Malformed("trust-list document names a key twice")
        return cls(device_id, sequence, tuple(public_key_from_raw(k) for k in keys), issued_at)


def _natural(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def encode_trust_document(document: TrustListDocument, key: SigningKey) -> bytes:
    if not 0 < len(document.keys) <= MAX_TRUSTED_KEYS:
        raise ValueError(f"a trust-list document names 1 to {MAX_TRUSTED_KEYS} keys")
    return sign_map(document.to_cbor_map(), key)


def read_trust_document(data: bytes, trust: TrustList, *, device_id: str) -> TrustListDocument:
    """Verify a document against the keys the device trusts now, for this device.

    The caller still checks the sequence against the one it holds (`Superseded`)."""
    payload = open_server_signed(data, trust, max_size=MAX_TRUST_DOCUMENT_SIZE, max_depth=3)
    document = TrustListDocument.from_cbor_map(payload)
    if document.device_id != device_id:
        raise WrongDevice(f"trust-list document is for device {document.device_id!r}")
    return document
