"""Receipt acknowledgements: the server's signed word that it stored some of a device's receipts.

A device deletes a receipt only when an acknowledgement names it, so nothing but the server
can make an energy record disappear. It is a tagged COSE_Sign1 by a server key (like a
revocation list) whose payload names the device and the receipts by the SHA-256 of their
signed bytes (`receipt_digest`): a digest covers the device's key and counter, so an
acknowledgement for a device's earlier key can never match the receipts of its next one.
Replaying an acknowledgement is harmless: it can only delete receipts the server holds.
"""

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from device.protocol.errors import Malformed, WrongDevice
from device.protocol.keys import SigningKey, TrustList
from device.protocol.signed import open_server_signed, sign_map

DIGEST_SIZE = 32
MAX_RECEIPTS_PER_ACK = 128
MAX_ACK_SIZE = 256 + MAX_RECEIPTS_PER_ACK * (DIGEST_SIZE + 2)


class AckField(IntEnum):
    DEVICE_ID = 1
    RECEIPTS = 2
    ISSUED_AT = 3


@dataclass(frozen=True)
class ReceiptAcknowledgement:
    device_id: str
    receipts: frozenset[bytes]  # digests of the receipts' signed bytes
    issued_at: int

    def to_cbor_map(self) -> dict[int, Any]:
        return {
            AckField.DEVICE_ID.value: self.device_id,
            AckField.RECEIPTS.value: sorted(self.receipts),
            AckField.ISSUED_AT.value: self.issued_at,
        }

    @classmethod
    def from_cbor_map(cls, fields: Any) -> "ReceiptAcknowledgement":
        if not isinstance(fields, dict):
            raise Malformed("acknowledgement payload must be a map")
        device_id = fields.get(AckField.DEVICE_ID)
        receipts = fields.get(AckField.RECEIPTS)
        issued_at = fields.get(AckField.ISSUED_AT)
        if not isinstance(device_id, str) or not isinstance(issued_at, int):
            raise Malformed("acknowledgement needs a device id and an issue time")
        if (
            not isinstance(receipts, list)
            or not receipts
            or len(receipts) > MAX_RECEIPTS_PER_ACK
            or not all(isinstance(d, bytes) and len(d) == DIGEST_SIZE for d in receipts)
        ):
            raise Malformed(
                f"acknowledgement must name 1 to {MAX_RECEIPTS_PER_ACK} receipt digests"
            )
        return cls(device_id, frozenset(receipts), issued_at)


def encode_acknowledgement(ack: ReceiptAcknowledgement, key: SigningKey) -> bytes:
    if not 0 < len(ack.receipts) <= MAX_RECEIPTS_PER_ACK:
        raise ValueError(f"an acknowledgement names 1 to {MAX_RECEIPTS_PER_ACK} receipts")
    return sign_map(ack.to_cbor_map(), key)


def read_acknowledgement(
    data: bytes, trust: TrustList, *, device_id: str
) -> ReceiptAcknowledgement:
    """Verify an acknowledgement against the server keys a device trusts, for this device."""
    payload = open_server_signed(data, trust, max_size=MAX_ACK_SIZE, max_depth=3)
    ack = ReceiptAcknowledgement.from_cbor_map(payload)
    if ack.device_id != device_id:
        raise WrongDevice(f"acknowledgement is for device {ack.device_id!r}")
    return ack
