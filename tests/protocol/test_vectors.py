"""device.protocol against the committed vectors, and the generator against the files."""

import json
from pathlib import Path
from typing import Any

import pytest
import segno

from device.protocol import ProtocolError, TrustList, from_text, verify_permit
from device.protocol.keys import public_key_from_jwk
from device.protocol.permit import MAX_PERMIT_SIZE
from device.protocol.receipt import read_receipt
from device.protocol.revocation import read_revocation_list
from device.protocol.trust_update import read_trust_document
from tests.vectors import generate

VECTORS = Path(generate.__file__).resolve().parent
PERMITS = sorted(path.name for path in (VECTORS / "permits").glob("*.json"))


def load(relative: str) -> dict[str, Any]:
    vector: dict[str, Any] = json.loads((VECTORS / relative).read_text())
    return vector


def decide(vector: dict[str, Any], data: bytes) -> dict[str, Any]:
    try:
        claims = verify_permit(
            data,
            TrustList.from_jwks(vector["trust"]),
            device_id=vector["device_id"],
            now=vector["now"],
            revoked=frozenset(bytes.fromhex(p) for p in vector["revoked"]),
            skew_s=vector["skew_s"],
        )
    except ProtocolError as refusal:
        return {"accepted": False, "reason": refusal.code}
    fields = {**vars(claims), "permit_id": claims.permit_id.hex()}
    return {"accepted": True, "claims": fields}


def test_there_are_valid_and_invalid_vectors():
    outcomes = [load(f"permits/{name}")["expected"]["accepted"] for name in PERMITS]
    assert outcomes.count(True) >= 5
    assert outcomes.count(False) >= 20


@pytest.mark.parametrize("name", PERMITS)
def test_permit_vector_from_bytes(name: str) -> None:
    vector = load(f"permits/{name}")
    data = bytes.fromhex(vector["permit_hex"])
    assert len(data) == vector["size"]
    assert decide(vector, data) == vector["expected"]


@pytest.mark.parametrize("name", PERMITS)
def test_permit_vector_from_text(name: str) -> None:
    vector = load(f"permits/{name}")
    try:
        data = from_text(vector["permit_text"], max_bytes=MAX_PERMIT_SIZE)
    except ProtocolError as refusal:
        assert vector["expected"] == {"accepted": False, "reason": refusal.code}
        return
    assert data.hex() == vector["permit_hex"]
    assert decide(vector, data) == vector["expected"]


def test_revocation_list_vector():
    vector = load("revocation-list.json")
    expected = vector["expected"]
    revocations = read_revocation_list(
        bytes.fromhex(vector["hex"]),
        TrustList.from_jwks(vector["trust"]),
        device_id=expected["device_id"],
    )
    assert revocations.sequence == expected["sequence"]
    assert sorted(p.hex() for p in revocations.permit_ids) == expected["permit_ids"]
    assert revocations.issued_at == expected["issued_at"]


def test_trust_list_vector():
    vector = load("trust-list.json")
    expected = vector["expected"]
    data = bytes.fromhex(vector["hex"])
    trust = TrustList.from_jwks(vector["trust"])
    document = read_trust_document(data, trust, device_id=expected["device_id"])
    assert (document.sequence, document.issued_at) == (expected["sequence"], expected["issued_at"])
    assert document.trust.to_jwks()["keys"] == expected["keys"]
    with pytest.raises(ProtocolError) as other_device:
        read_trust_document(data, trust, device_id="dev-4")
    assert other_device.value.code == "wrong_device"
    newcomer = TrustList.from_jwks({"keys": expected["keys"][1:]})  # trusts the new key only
    with pytest.raises(ProtocolError) as unknown:
        read_trust_document(data, newcomer, device_id=expected["device_id"])
    assert unknown.value.code == "unknown_key"


def test_receipt_vector():
    vector = load("receipt.json")
    receipt = read_receipt(
        bytes.fromhex(vector["hex"]), public_key_from_jwk(vector["device_public_jwk"])
    )
    assert {**vars(receipt), "permit_id": receipt.permit_id.hex()} == vector["expected"]


def test_generator_reproduces_the_committed_files_byte_for_byte():
    rendered = generate.render()
    committed = {
        str(path.relative_to(VECTORS)): path.read_text()
        for pattern in ("permits/*.json", "*.json")
        for path in VECTORS.glob(pattern)
    }
    assert sorted(rendered) == sorted(committed), "run: python -m tests.vectors.generate"
    for relative, text in rendered.items():
        assert committed[relative] == text, f"{relative} changed: review, then regenerate"


def test_the_documented_example_is_the_valid_vector():
    doc = (VECTORS.parents[1] / "docs" / "permit-format.md").read_text()
    vector = load("permits/valid.json")
    qr = segno.make_qr(vector["permit_text"], error="m", boost_error=False)
    assert vector["permit_hex"] in doc
    assert vector["permit_text"] in doc
    assert (
        f"{vector['size']} bytes; the `PP1:` text is {len(vector['permit_text'])} characters" in doc
    )
    assert f"**version {qr.version}** QR code" in doc
