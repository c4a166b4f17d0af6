"""A trust-list document damaged anywhere is refused with a reason, never taken or crashed on."""

import json
from pathlib import Path

import pytest

from device.protocol import ProtocolError, TrustList
from device.protocol.trust_update import read_trust_document

VECTOR = json.loads((Path(__file__).parents[1] / "vectors" / "trust-list.json").read_text())
DOCUMENT = bytes.fromhex(VECTOR["hex"])
TRUST = TrustList.from_jwks(VECTOR["trust"])
DEVICE = VECTOR["expected"]["device_id"]


def test_the_vector_reads() -> None:
    assert read_trust_document(DOCUMENT, TRUST, device_id=DEVICE).sequence == 3


@pytest.mark.parametrize("flip", [0x01, 0x80, 0xFF])
def test_every_changed_byte_is_refused(flip: int) -> None:
    for index in range(len(DOCUMENT)):
        damaged = bytearray(DOCUMENT)
        damaged[index] ^= flip
        with pytest.raises(ProtocolError):
            read_trust_document(bytes(damaged), TRUST, device_id=DEVICE)


def test_every_truncation_and_extension_is_refused() -> None:
    for end in range(len(DOCUMENT)):
        with pytest.raises(ProtocolError):
            read_trust_document(DOCUMENT[:end], TRUST, device_id=DEVICE)
    with pytest.raises(ProtocolError):
        read_trust_document(DOCUMENT + b"\x00", TRUST, device_id=DEVICE)
