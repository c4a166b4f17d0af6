"""Write the permit test vectors: `python -m tests.vectors.generate` (from the repo root).

Deterministic: fixed Ed25519 seeds, fixed permit id, fixed instants, and Ed25519 itself is
deterministic, so the output is byte for byte the same on every run.
tests/protocol/test_vectors.py fails when the committed files differ from what this writes,
so a change to the wire format is always noticed and reviewed.

The expected decision of every case is stated here, by hand, never computed by the verifier.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cbor2

from device.protocol import PermitClaims, to_text
from device.protocol.cose import TAG_SIGN1, Header
from device.protocol.keys import public_jwk
from device.protocol.permit import DEFAULT_SKEW_S, MAX_PERMIT_SIZE
from device.protocol.receipt import Receipt, encode_receipt
from device.protocol.revocation import RevocationList, encode_revocation_list
from device.protocol.trust_update import TrustListDocument, encode_trust_document
from tests.protocol import forge

OUT = Path(__file__).resolve().parent
DEVICE_KEY = forge.seeded_key("device")
NEXT_SERVER_KEY = forge.seeded_key("server-next")  # the key a rotation adds


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    permit: bytes
    reason: str | None  # None: accepted
    now: int = forge.NOW
    device_id: str = forge.DEVICE_ID
    revoked: tuple[bytes, ...] = ()
    claims: PermitClaims | None = field(default=None)


def _replace_part(message: bytes, index: int, value: Any) -> bytes:
    decoded = cbor2.loads(message)
    decoded.value.value[index] = value
    return cbor2.dumps(decoded)


def valid_cases() -> list[Case]:
    claims = forge.claims()
    bare = forge.claims(max_energy_wh=None, max_power_w=None)
    crit = forge.eddsa_protected(extra={Header.CRIT.value: [Header.KID.value]})
    return [
        Case("valid", "a permit inside its window", forge.sign1(), None, claims=claims),
        Case(
            "valid-no-limits",
            "no energy or power limit",
            forge.sign1(forge.payload(bare)),
            None,
            claims=bare,
        ),
        Case(
            "valid-skew-edge",
            "60 s before the window opens: the skew allows it",
            forge.sign1(),
            None,
            now=claims.not_before - DEFAULT_SKEW_S,
            claims=claims,
        ),
        Case(
            "valid-last-second",
            "one second before the window closes",
            forge.sign1(),
            None,
            now=claims.expires_at - 1,
            claims=claims,
        ),
        Case(
            "valid-without-cwt-tag",
            "tag 18 only: the CWT tag 61 is optional (RFC 8392)",
            forge.sign1(tags=(TAG_SIGN1,)),
            None,
            claims=claims,
        ),
        Case(
            "valid-known-crit",
            "crit lists kid, which the device understands",
            forge.sign1(protected=crit),
            None,
            claims=claims,
        ),
    ]


def header_cases() -> list[Case]:
    kid = forge.SERVER_KEY.kid
    unknown_crit = forge.eddsa_protected(extra={Header.CRIT.value: [99], 99: 1})
    return [
        Case(
            "alg-none",
            'alg "none" and an empty signature',
            forge.sign1(protected={1: "none", 4: kid}, signature=b""),
            "unsupported_algorithm",
        ),
        Case(
            "alg-missing", "no alg at all", forge.sign1(protected={4: kid}), "unsupported_algorithm"
        ),
        Case(
            "alg-unprotected-only",
            "alg only in the unprotected header",
            forge.sign1(protected={4: kid}, unprotected={1: -8}),
            "unsupported_algorithm",
        ),
        Case(
            "alg-in-both-buckets",
            "alg in both header buckets",
            forge.sign1(unprotected={1: -8}),
            "malformed",
        ),
        Case(
            "alg-es256",
            "ES256 is not on the permit allow-list",
            forge.sign1(protected={1: -7, 4: kid}),
            "unsupported_algorithm",
        ),
        Case(
            "alg-hmac-public-key",
            "HMAC 256/256 keyed with the server's public key",
            forge.sign1(
                protected={1: 5, 4: kid}, signer=forge.hmac_signer(forge.public_key_bytes())
            ),
            "unsupported_algorithm",
        ),
        Case(
            "crit-unknown",
            "crit names a header the device does not understand",
            forge.sign1(protected=unknown_crit),
            "malformed",
        ),
        Case(
            "kid-unknown",
            "kid not in the trust list",
            forge.sign1(protected={1: -8, 4: b"\x00\x01\x02\x03"}),
            "unknown_key",
        ),
        Case(
            "key-untrusted",
            "signed by an untrusted key under its own kid",
            forge.sign1(
                protected=forge.eddsa_protected(forge.OTHER_KEY),
                signer=forge.ed25519_signer(forge.OTHER_KEY),
            ),
            "unknown_key",
        ),
        Case(
            "key-other-under-trusted-kid",
            "valid signature by another key, trusted kid",
            forge.sign1(signer=forge.ed25519_signer(forge.OTHER_KEY)),
            "bad_signature",
        ),
    ]


def body_cases() -> list[Case]:
    valid = forge.sign1()
    flipped = bytearray(valid)
    flipped[-1] ^= 1
    claims = forge.claims()
    longer = forge.payload(forge.claims(expires_at=forge.NOW + 86_400))
    body = forge.payload()
    duplicate_aud = bytes([body[0] + 1]) + body[1:] + cbor2.dumps(3) + cbor2.dumps("dev-9")
    return [
        Case(
            "payload-altered",
            "exp moved a day later after signing",
            _replace_part(valid, 2, longer),
            "bad_signature",
        ),
        Case("signature-bit-flip", "last signature bit flipped", bytes(flipped), "bad_signature"),
        Case(
            "wrong-device",
            "a valid permit for another device",
            valid,
            "wrong_device",
            device_id=forge.OTHER_DEVICE_ID,
        ),
        Case(
            "expired",
            "verified at the window end, which is exclusive",
            valid,
            "expired",
            now=claims.expires_at,
        ),
        Case(
            "not-yet-valid",
            "61 s before the window opens",
            valid,
            "not_yet_valid",
            now=claims.not_before - DEFAULT_SKEW_S - 1,
        ),
        Case("revoked", "replay after revocation", valid, "revoked", revoked=(forge.PERMIT_ID,)),
        Case(
            "duplicate-claim",
            "aud twice in the claims map, signed",
            forge.sign1(duplicate_aud),
            "malformed",
        ),
        Case(
            "cti-short",
            "an 8-byte permit id",
            forge.sign1(forge.payload(forge.claims(permit_id=b"\x01" * 8))),
            "malformed",
        ),
        Case(
            "window-empty",
            "exp equal to nbf",
            forge.sign1(forge.payload(forge.claims(expires_at=claims.not_before))),
            "malformed",
        ),
    ]


def encoding_cases() -> list[Case]:
    valid = forge.sign1()
    oversize = forge.payload(forge.claims(user_id="u" * MAX_PERMIT_SIZE))
    return [
        Case("trailing-bytes", "one zero byte after the message", valid + b"\x00", "malformed"),
        Case("truncated", "the last byte cut off", valid[:-1], "malformed"),
        Case(
            "indefinite-length",
            "the COSE_Sign1 array with indefinite length",
            forge.indefinite_permit(),
            "malformed",
        ),
        Case(
            "deeply-nested",
            "200 nested arrays in the unprotected header",
            forge.sign1(unprotected={99: cbor2.loads(forge.nested_arrays(200))}),
            "malformed",
        ),
        Case(
            "oversize",
            "a validly signed permit over the 1024-byte bound",
            forge.sign1(oversize),
            "too_large",
        ),
        Case("untagged", "no tag at all", forge.sign1(tags=()), "malformed"),
        Case(
            "mac0-tag", "tag 17 (COSE_Mac0) instead of 18", forge.sign1(tags=(61, 17)), "malformed"
        ),
    ]


def permit_vector(case: Case) -> dict[str, Any]:
    expected: dict[str, Any] = {"accepted": case.reason is None}
    if case.reason is None:
        assert case.claims is not None
        expected["claims"] = {**asdict(case.claims), "permit_id": case.claims.permit_id.hex()}
    else:
        expected["reason"] = case.reason
    return {
        "name": case.name,
        "description": case.description,
        "permit_hex": case.permit.hex(),
        "permit_text": to_text(case.permit),
        "size": len(case.permit),
        "device_id": case.device_id,
        "now": case.now,
        "skew_s": DEFAULT_SKEW_S,
        "revoked": [permit_id.hex() for permit_id in case.revoked],
        "trust": forge.trust().to_jwks(),
        "expected": expected,
    }


def side_vectors() -> dict[str, dict[str, Any]]:
    revocations = RevocationList(forge.DEVICE_ID, 7, frozenset({forge.PERMIT_ID}), forge.NOW)
    receipt = Receipt(
        forge.DEVICE_ID,
        forge.PERMIT_ID,
        42,
        forge.NOW - 300,
        forge.NOW,
        6250.5,
        "user_stop",
        "r-1024",
    )
    trust_document = TrustListDocument(
        forge.DEVICE_ID,
        3,
        (forge.SERVER_KEY.public_key, NEXT_SERVER_KEY.public_key),
        forge.NOW,
    )
    return {
        "revocation-list.json": {
            "description": "a revocation list for dev-3 with sequence 7 revoking the permit",
            "hex": encode_revocation_list(revocations, forge.SERVER_KEY).hex(),
            "trust": forge.trust().to_jwks(),
            "expected": {**asdict(revocations), "permit_ids": [forge.PERMIT_ID.hex()]},
        },
        "receipt.json": {
            "description": "a receipt from dev-3, signed by the device's own key",
            "hex": encode_receipt(receipt, DEVICE_KEY).hex(),
            "device_public_jwk": public_jwk(DEVICE_KEY.public_key),
            "expected": {**asdict(receipt), "permit_id": forge.PERMIT_ID.hex()},
        },
        "trust-list.json": {
            "description": "a trust-list document for dev-3, sequence 3: the server key and "
            "the key a rotation added, signed by the key dev-3 already trusts",
            "hex": encode_trust_document(trust_document, forge.SERVER_KEY).hex(),
            "trust": forge.trust().to_jwks(),
            "expected": {
                "device_id": trust_document.device_id,
                "sequence": trust_document.sequence,
                "keys": trust_document.trust.to_jwks()["keys"],
                "issued_at": trust_document.issued_at,
            },
        },
    }


def cases() -> list[Case]:
    return valid_cases() + header_cases() + body_cases() + encoding_cases()


def render() -> dict[str, str]:
    """Relative path -> file text, for every vector file this script owns."""
    files = {f"permits/{c.name}.json": _dump(permit_vector(c)) for c in cases()}
    files.update({name: _dump(vector) for name, vector in side_vectors().items()})
    return files


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2) + "\n"


def main() -> None:
    files = render()
    for stale in (OUT / "permits").glob("*.json"):
        if f"permits/{stale.name}" not in files:
            stale.unlink()
    for relative, text in files.items():
        path = OUT / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(files)} vector files under {OUT}")


if __name__ == "__main__":
    main()
