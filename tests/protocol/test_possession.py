"""The registration proof: signed by the key it names, for one device, fresh, one form."""

import cbor2
import pytest

from device.protocol.cose import sign1_ed25519
from device.protocol.errors import ProtocolError
from device.protocol.keys import SigningKey
from device.protocol.possession import (
    MAX_AGE_S,
    ProofField,
    prove_possession,
    verify_possession,
)

NOW = 1_750_000_000
KEY = SigningKey.generate()


def refusal(proof: bytes, *, device_id: str = "ch-1", key: SigningKey = KEY) -> str:
    with pytest.raises(ProtocolError) as caught:
        verify_possession(proof, device_id=device_id, public_key=key.public_key, now=NOW)
    return caught.value.code


def test_a_fresh_proof_for_this_device_and_key_is_accepted() -> None:
    proof = verify_possession(
        prove_possession("ch-1", KEY, NOW - 60), device_id="ch-1", public_key=KEY.public_key,
        now=NOW,
    )  # fmt: skip
    assert (proof.device_id, proof.issued_at) == ("ch-1", NOW - 60)


def test_a_proof_for_another_device_or_by_another_key_is_refused() -> None:
    assert refusal(prove_possession("ch-2", KEY, NOW)) == "wrong_device"
    assert refusal(prove_possession("ch-1", SigningKey.generate(), NOW)) == "unknown_key"


def test_a_proof_naming_another_key_than_the_signing_one_is_refused() -> None:
    other = SigningKey.generate()
    payload = cbor2.dumps(
        {
            ProofField.DEVICE_ID.value: "ch-1",
            ProofField.PUBLIC_KEY.value: bytes(32),
            ProofField.PURPOSE.value: "powerpermit-register",
            ProofField.ISSUED_AT.value: NOW,
        }
    )
    assert refusal(sign1_ed25519(payload, other.private_key, other.kid), key=other) == (
        "unknown_key"
    )


def test_stale_future_and_foreign_purpose_proofs_are_refused() -> None:
    assert refusal(prove_possession("ch-1", KEY, NOW - MAX_AGE_S - 1)) == "expired"
    assert refusal(prove_possession("ch-1", KEY, NOW + 3600)) == "not_yet_valid"
    receipt_like = sign1_ed25519(cbor2.dumps({1: "ch-1"}), KEY.private_key, KEY.kid)
    assert refusal(receipt_like) == "malformed"
    assert refusal(b"\xd2" + prove_possession("ch-1", KEY, NOW)) == "malformed"
