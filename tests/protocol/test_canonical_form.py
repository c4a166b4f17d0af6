"""One accepted form per signed message: an unprotected header entry the server never writes
changes the bytes but not the signature, so it is refused (`make fuzz` found {3: -8})."""

from collections.abc import Callable
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.protocol import ProtocolError, encode_permit, verify_permit
from device.protocol.acknowledgement import (
    ReceiptAcknowledgement,
    encode_acknowledgement,
    read_acknowledgement,
)
from device.protocol.receipt import Receipt, encode_receipt, read_receipt
from device.protocol.revocation import RevocationList, encode_revocation_list, read_revocation_list
from tests.protocol import forge

DEVICE_KEY = forge.seeded_key("device")
RECEIPT = Receipt(
    forge.DEVICE_ID, forge.PERMIT_ID, 1, forge.NOW - 60, forge.NOW, 1.5, "user_stop", "r-1"
)

Read = Callable[[bytes], Any]
FORMATS: dict[str, tuple[bytes, Read]] = {
    "permit": (
        encode_permit(forge.claims(), forge.SERVER_KEY),
        lambda data: verify_permit(data, forge.trust(), device_id=forge.DEVICE_ID, now=forge.NOW),
    ),
    "receipt": (
        encode_receipt(RECEIPT, DEVICE_KEY),
        lambda data: read_receipt(data, DEVICE_KEY.public_key),
    ),
    "revocation list": (
        encode_revocation_list(
            RevocationList(forge.DEVICE_ID, 1, frozenset({forge.PERMIT_ID}), forge.NOW),
            forge.SERVER_KEY,
        ),
        lambda data: read_revocation_list(data, forge.trust(), device_id=forge.DEVICE_ID),
    ),
    "receipt acknowledgement": (
        encode_acknowledgement(
            ReceiptAcknowledgement(forge.DEVICE_ID, frozenset({bytes(32)}), forge.NOW),
            forge.SERVER_KEY,
        ),
        lambda data: read_acknowledgement(data, forge.trust(), device_id=forge.DEVICE_ID),
    ),
}
EXTRA_ENTRIES = [{3: -8}, {4: forge.SERVER_KEY.kid}, {"note": "hi"}, {-65537: b""}]


def with_unprotected(data: bytes, entries: dict[Any, Any]) -> bytes:
    item = cbor2.loads(data)
    sign1 = item
    while isinstance(sign1, cbor2.CBORTag):
        sign1 = sign1.value
    sign1[1] = entries
    return cbor2.dumps(item)


@pytest.mark.parametrize("name", FORMATS)
def test_the_signed_form_is_accepted(name: str) -> None:
    data, read = FORMATS[name]
    assert read(data)


@pytest.mark.parametrize("entries", EXTRA_ENTRIES, ids=repr)
@pytest.mark.parametrize("name", FORMATS)
def test_an_added_unprotected_header_entry_is_refused(name: str, entries: dict) -> None:
    data, read = FORMATS[name]
    with pytest.raises(ProtocolError) as caught:
        read(with_unprotected(data, entries))
    assert caught.value.code == "malformed"


LABELS = st.integers(-70_000, 70_000) | st.text(max_size=8)
VALUES = st.integers(-(2**16), 2**16) | st.binary(max_size=8) | st.text(max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(list(FORMATS)),
    entries=st.dictionaries(LABELS, VALUES, min_size=1, max_size=3),
)
def test_no_unprotected_entry_of_any_label_or_value_is_accepted(name: str, entries: dict) -> None:
    data, read = FORMATS[name]
    with pytest.raises(ProtocolError):
        read(with_unprotected(data, entries))
