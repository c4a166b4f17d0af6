"""Usage receipts: what a device delivered under a permit, signed by the device's own key.

A receipt is a tagged COSE_Sign1 (no CWT tag: it is not a token anyone presents) whose
payload is a map keyed by `ReceiptField`. The server verifies it against the public key
registered for the device. `counter` is monotonic per device key only: a re-commissioned
device starts again at 1, so a receipt is identified by the digest of its signed bytes.
"""

import hashlib
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from device.protocol import cbor
from device.protocol.cose import decode_sign1
from device.protocol.errors import Malformed
from device.protocol.keys import SigningKey
from device.protocol.signed import open_key_signed, sign_map

MAX_RECEIPT_SIZE = 1024

STOP_REASONS = ("window_end", "energy_limit", "battery_full", "user_stop", "revoked", "unplugged")


class ReceiptField(IntEnum):
    DEVICE_ID = 1
    PERMIT_ID = 2
    COUNTER = 3
    STARTED_AT = 4
    STOPPED_AT = 5
    ENERGY_WH = 6
    STOP_REASON = 7
    REQUEST_ID = 8


@dataclass(frozen=True)
class Receipt:
    device_id: str
    permit_id: bytes
    counter: int
    started_at: int
    stopped_at: int
    energy_wh: float
    stop_reason: str
    request_id: str

    def to_cbor_map(self) -> dict[int, Any]:
        return {
            ReceiptField.DEVICE_ID.value: self.device_id,
            ReceiptField.PERMIT_ID.value: self.permit_id,
            ReceiptField.COUNTER.value: self.counter,
            ReceiptField.STARTED_AT.value: self.started_at,
            ReceiptField.STOPPED_AT.value: self.stopped_at,
            ReceiptField.ENERGY_WH.value: float(self.energy_wh),
            ReceiptField.STOP_REASON.value: self.stop_reason,
            ReceiptField.REQUEST_ID.value: self.request_id,
        }

    @classmethod
    def from_cbor_map(cls, fields: Any) -> "Receipt":
        if not isinstance(fields, dict):
            raise Malformed("receipt payload must be a map")
        energy = fields.get(ReceiptField.ENERGY_WH)
        if not isinstance(energy, int | float) or isinstance(energy, bool) or energy < 0:
            raise Malformed("receipt energy must be a non-negative number")
        receipt = cls(
            device_id=_field(fields, ReceiptField.DEVICE_ID, str),
            permit_id=_field(fields, ReceiptField.PERMIT_ID, bytes),
            counter=_field(fields, ReceiptField.COUNTER, int),
            started_at=_field(fields, ReceiptField.STARTED_AT, int),
            stopped_at=_field(fields, ReceiptField.STOPPED_AT, int),
            energy_wh=float(energy),
            stop_reason=_field(fields, ReceiptField.STOP_REASON, str),
            request_id=_field(fields, ReceiptField.REQUEST_ID, str),
        )
        if receipt.stopped_at < receipt.started_at:
            raise Malformed("receipt stops before it starts")
        return receipt


def encode_receipt(receipt: Receipt, device_key: SigningKey) -> bytes:
    return sign_map(receipt.to_cbor_map(), device_key)


def read_receipt(data: bytes, device_public_key: ed25519.Ed25519PublicKey) -> Receipt:
    """Verify a receipt against the device's registered key and return its fields."""
    payload = open_key_signed(data, device_public_key, max_size=MAX_RECEIPT_SIZE, what="receipt")
    return Receipt.from_cbor_map(payload)


def receipt_digest(data: bytes) -> bytes:
    """What names one receipt, on the server and in acknowledgements: SHA-256 of its bytes."""
    return hashlib.sha256(data).digest()


def peek_device_id(data: bytes) -> str:
    """The device a receipt claims to come from, unverified: only to pick the key to check."""
    message = decode_sign1(data, max_size=MAX_RECEIPT_SIZE, allow_cwt_tag=False)
    fields = cbor.loads(message.payload, max_size=MAX_RECEIPT_SIZE)
    if not isinstance(fields, dict):
        raise Malformed("receipt payload must be a map")
    device_id: str = _field(fields, ReceiptField.DEVICE_ID, str)
    return device_id


def _field(fields: dict[Any, Any], key: int, kind: type) -> Any:
    value = fields.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Malformed(f"receipt field {int(key)} missing or not {kind.__name__}")
    return value
