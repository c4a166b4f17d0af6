"""The COSE working group's Sign1 examples against the low-level COSE_Sign1 verifier.

Each case is checked against the one key in its file (below kid lookup and claims): accept
every file without `fail`, reject every file with it, with the exceptions the README names.
"""

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

from device.protocol import ProtocolError
from device.protocol.cose import PublicKey, decode_sign1, verify_signature

HERE = Path(__file__).resolve().parent
VECTORS = HERE.parent / "vectors" / "cose-wg"
MAX_SIZE = 4096

CASES = sorted(
    str(path.relative_to(VECTORS))
    for folder in ("eddsa-examples", "ecdsa-examples", "sign1-tests", "CWT")
    for path in (VECTORS / folder).glob("*.json")
)
NOT_SIGN1 = {"CWT/A_4.json", "CWT/A_5.json", "CWT/A_6.json", "CWT/A_7.json"}
# alg only in the unprotected header: valid COSE, refused by the device's own policy.
UNPROTECTED_ALG = "sign1-tests/sign-pass-01.json"
FAIL_CODES = {
    "sign1-tests/sign-fail-01.json": "malformed",  # tag 998 instead of 18
    "sign1-tests/sign-fail-02.json": "bad_signature",  # content changed
    "sign1-tests/sign-fail-03.json": "unsupported_algorithm",  # alg -999
    "sign1-tests/sign-fail-04.json": "unsupported_algorithm",  # alg "unknown"
    "sign1-tests/sign-fail-06.json": "bad_signature",  # protected attribute added
    "sign1-tests/sign-fail-07.json": "bad_signature",  # protected attribute removed
}


def load(name: str) -> dict[str, Any]:
    case: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return case


def coordinate(jwk: dict[str, str], name: str) -> bytes:
    if f"{name}_hex" in jwk:
        return bytes.fromhex(jwk[f"{name}_hex"])
    return base64.urlsafe_b64decode(jwk[name] + "=" * (-len(jwk[name]) % 4))


def public_key(jwk: dict[str, str]) -> PublicKey:
    if jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(coordinate(jwk, "x"))
    if jwk["kty"] == "OKP" and jwk["crv"] == "Ed448":
        return ed448.Ed448PublicKey.from_public_bytes(coordinate(jwk, "x"))
    curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
    x = int.from_bytes(coordinate(jwk, "x"), "big")
    y = int.from_bytes(coordinate(jwk, "y"), "big")
    return ec.EllipticCurvePublicNumbers(x, y, curves[jwk["crv"]]).public_key()


def check(
    name: str, *, require_tag: bool = False, use_external: bool = True, strict: bool = False
) -> None:
    case = load(name)
    sign0 = case["input"]["sign0"]
    external = bytes.fromhex(sign0.get("external", "")) if use_external else b""
    data = bytes.fromhex(case["output"]["cbor"])
    message = decode_sign1(
        data,
        max_size=MAX_SIZE,
        require_tag=require_tag,
        allow_cwt_tag=False,
        allow_unprotected_alg=not strict,
    )
    verify_signature(message, public_key(sign0["key"]), external)


def test_every_sign1_folder_is_present():
    assert len(CASES) == 16
    assert not NOT_SIGN1 & set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_cose_wg_example(name: str) -> None:
    if load(name).get("fail"):
        with pytest.raises(ProtocolError) as caught:
            check(name)
        assert caught.value.code == FAIL_CODES[name]
    else:
        check(name)


def test_the_device_policy_refuses_an_algorithm_named_only_unprotected():
    with pytest.raises(ProtocolError) as caught:
        check(UNPROTECTED_ALG, strict=True)
    assert caught.value.code == "unsupported_algorithm"


def test_every_failing_example_has_an_expected_reason():
    failing = {name for name in CASES if load(name).get("fail")}
    assert failing == set(FAIL_CODES)


def test_sign_pass_02_needs_its_external_aad():
    with pytest.raises(ProtocolError) as caught:
        check("sign1-tests/sign-pass-02.json", use_external=False)
    assert caught.value.code == "bad_signature"


def test_sign_pass_03_is_refused_where_a_tag_is_required():
    with pytest.raises(ProtocolError) as caught:
        check("sign1-tests/sign-pass-03.json", require_tag=True)
    assert caught.value.code == "malformed"


def test_the_copy_is_verbatim() -> None:
    """Each file hashes as the working group's original did (SHA256SUMS was taken from it),
    so the check needs nothing outside the repository and never skips."""
    sums = {}
    for line in (VECTORS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name] = digest
    assert sorted(sums) == CASES
    for name, digest in sums.items():
        assert hashlib.sha256((VECTORS / name).read_bytes()).hexdigest() == digest, name
