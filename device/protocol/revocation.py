"""Revocation lists: server-signed, sequence-numbered lists of withdrawn permit ids.

One list per device, carried by phones like permits. A device keeps the highest sequence
it has verified and refuses any list that is not newer (`superseded`). It keeps every id
it was ever sent (lists are unioned), so having applied sequence N it refuses every permit
revoked up to N. It says so in a confirmation signed by its own key, which the phone
carries back: the server then frees those permits' slots and leaves them off later lists.
"""

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeGuard

from cryptography.hazmat.primitives.asymmetric import ed25519

from device.protocol.errors import Malformed, WrongDevice
from device.protocol.keys import SigningKey, TrustList
from device.protocol.signed import open_key_signed, open_server_signed, sign_map

MAX_REVOCATION_LIST_SIZE = 16 * 1024
MAX_CONFIRMATION_SIZE = 256


class RevocationField(IntEnum):
    DEVICE_ID = 1
    SEQUENCE = 2
    PERMIT_IDS = 3
    ISSUED_AT = 4


@dataclass(frozen=True)
class RevocationList:
    device_id: str
    sequence: int
    permit_ids: frozenset[bytes]
    issued_at: int

    def to_cbor_map(self) -> dict[int, Any]:
        return {
            RevocationField.DEVICE_ID.value: self.device_id,
            RevocationField.SEQUENCE.value: self.sequence,
            RevocationField.PERMIT_IDS.value: sorted(self.permit_ids),
            RevocationField.ISSUED_AT.value: self.issued_at,
        }

    @classmethod
    def from_cbor_map(cls, fields: Any) -> "RevocationList":
        if not isinstance(fields, dict):
            raise Malformed("revocation list payload must be a map")
        device_id = fields.get(RevocationField.DEVICE_ID)
        sequence = fields.get(RevocationField.SEQUENCE)
        permit_ids = fields.get(RevocationField.PERMIT_IDS)
        issued_at = fields.get(RevocationField.ISSUED_AT)
        if not isinstance(device_id, str) or not isinstance(issued_at, int):
            raise Malformed("revocation list needs a device id and an issue time")
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
            raise Malformed("revocation list sequence must be a non-negative integer")
        if not isinstance(permit_ids, list) or not all(isinstance(p, bytes) for p in permit_ids):
            raise Malformed("revocation list permit ids must be byte strings")
        return cls(device_id, sequence, frozenset(permit_ids), issued_at)


def encode_revocation_list(revocations: RevocationList, key: SigningKey) -> bytes:
    return sign_map(revocations.to_cbor_map(), key)


def read_revocation_list(data: bytes, trust: TrustList, *, device_id: str) -> RevocationList:
    payload = open_server_signed(data, trust, max_size=MAX_REVOCATION_LIST_SIZE, max_depth=3)
    revocations = RevocationList.from_cbor_map(payload)
    if revocations.device_id != device_id:
        raise WrongDevice(f"revocation list is for device {revocations.device_id!r}")
    return revocations


class ConfirmationField(IntEnum):
    DEVICE_ID = 1
    SEQUENCE = 2
    CONFIRMED_AT = 3


@dataclass(frozen=True)
class RevocationConfirmation:
    """A device's word, under its own key, that it holds revocation list `sequence`."""

    device_id: str
    sequence: int
    confirmed_at: int  # the device's trusted time

    def to_cbor_map(self) -> dict[int, Any]:
        return {
            ConfirmationField.DEVICE_ID.value: self.device_id,
            ConfirmationField.SEQUENCE.value: self.sequence,
            ConfirmationField.CONFIRMED_AT.value: self.confirmed_at,
        }

    @classmethod
    def from_cbor_map(cls, fields: Any) -> "RevocationConfirmation":
        if not isinstance(fields, dict):
            raise Malformed("confirmation payload must be a map")
        device_id = fields.get(ConfirmationField.DEVICE_ID)
        sequence = fields.get(ConfirmationField.SEQUENCE)
        confirmed_at = fields.get(ConfirmationField.CONFIRMED_AT)
        if not isinstance(device_id, str):
            raise Malformed("confirmation needs a device id")
        if not _natural(sequence) or not _natural(confirmed_at):
            raise Malformed("confirmation sequence and time must be non-negative integers")
        return cls(device_id, sequence, confirmed_at)


def _natural(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def encode_confirmation(confirmation: RevocationConfirmation, device_key: SigningKey) -> bytes:
    return sign_map(confirmation.to_cbor_map(), device_key)


def read_confirmation(
    data: bytes, device_public_key: ed25519.Ed25519PublicKey, *, device_id: str
) -> RevocationConfirmation:
    """Verify a confirmation against the device's registered key and return its fields."""
    payload = open_key_signed(
        data, device_public_key, max_size=MAX_CONFIRMATION_SIZE, max_depth=2, what="confirmation"
    )
    confirmation = RevocationConfirmation.from_cbor_map(payload)
    if confirmation.device_id != device_id:
        raise WrongDevice(f"confirmation is from device {confirmation.device_id!r}")
    return confirmation
