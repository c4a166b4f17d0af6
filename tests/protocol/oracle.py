"""What a fuzzer may see: which inputs may be accepted, and the one call it makes per input."""

from device.protocol import ProtocolError, verify_permit
from device.protocol.cose import TAG_CWT
from device.protocol.revocation import read_revocation_list
from tests.protocol import forge

CWT_TAG_HEAD = bytes([0xD8, TAG_CWT])


def acceptable_forms(permit: bytes) -> frozenset[bytes]:
    """The permit itself, and the same COSE_Sign1 without its optional CWT tag (RFC 8392)."""
    forms = {permit}
    if permit.startswith(CWT_TAG_HEAD):
        forms.add(permit[len(CWT_TAG_HEAD) :])
    return frozenset(forms)


def decide(data: bytes) -> str:
    """'accepted' or the reason code; anything other than a ProtocolError propagates."""
    try:
        verify_permit(data, forge.trust(), device_id=forge.DEVICE_ID, now=forge.NOW)
    except ProtocolError as refusal:
        return refusal.code
    return "accepted"


def decide_revocation_list(data: bytes) -> str:
    try:
        read_revocation_list(data, forge.trust(), device_id=forge.DEVICE_ID)
    except ProtocolError as refusal:
        return refusal.code
    return "accepted"
