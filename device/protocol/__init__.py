"""Wire formats the device owns and the server imports: permit, receipt, revocation list, text."""

from device.protocol.errors import ProtocolError
from device.protocol.keys import SigningKey, TrustList
from device.protocol.permit import (
    PermitClaims,
    encode_permit,
    new_permit_id,
    read_permit,
    verify_permit,
)
from device.protocol.text import from_text, to_text

__all__ = [
    "PermitClaims",
    "ProtocolError",
    "SigningKey",
    "TrustList",
    "encode_permit",
    "from_text",
    "new_permit_id",
    "read_permit",
    "to_text",
    "verify_permit",
]
