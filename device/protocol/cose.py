"""COSE_Sign1 (RFC 9052) with strict header rules, as a device needs it.

`alg` is read only from the protected header; a label in both buckets, an unknown `crit`
label or a tag other than the expected ones is refused. Verification never falls back to
an unprotected `alg`. The server and the device write every header protected and leave the
unprotected map empty, so outside the interop mode any unprotected entry is refused: each
signed message has exactly one accepted encoding.
"""

import functools
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from device.protocol import cbor
from device.protocol.errors import BadSignature, Malformed, UnsupportedAlgorithm

TAG_SIGN1 = 18
TAG_CWT = 61


class Header(IntEnum):
    ALG = 1
    CRIT = 2
    CONTENT_TYPE = 3
    KID = 4


class Alg(IntEnum):
    EDDSA = -8
    ES256 = -7
    ES384 = -35
    ES512 = -36


# Header labels this implementation understands, so they may appear in `crit`.
UNDERSTOOD_HEADERS = frozenset(int(h) for h in Header)

PublicKey = ed25519.Ed25519PublicKey | ed448.Ed448PublicKey | ec.EllipticCurvePublicKey

# The hash is named by the algorithm; r and s are as wide as the key's curve (RFC 9053 2.1).
_EC_HASHES: dict[int, type[hashes.HashAlgorithm]] = {
    Alg.ES256: hashes.SHA256,
    Alg.ES384: hashes.SHA384,
    Alg.ES512: hashes.SHA512,
}
_SIGN1_TAGS = frozenset({TAG_SIGN1})
_CWT_SIGN1_TAGS = frozenset({TAG_CWT, TAG_SIGN1})


@dataclass(frozen=True)
class Sign1:
    """A decoded COSE_Sign1 whose headers passed the structural rules (not yet verified)."""

    protected_bytes: bytes
    protected: dict[int, Any]
    unprotected: dict[Any, Any]
    payload: bytes
    signature: bytes
    unprotected_alg_allowed: bool = False

    @property
    def alg(self) -> int:
        alg = self.protected.get(Header.ALG)
        if alg is None and self.unprotected_alg_allowed:
            alg = self.unprotected.get(Header.ALG)
        if not isinstance(alg, int) or isinstance(alg, bool):
            raise UnsupportedAlgorithm("no algorithm in the protected header")
        return alg

    @property
    def kid(self) -> bytes | None:
        kid = self.protected.get(Header.KID, self.unprotected.get(Header.KID))
        if kid is not None and not isinstance(kid, bytes):
            raise Malformed("kid must be a byte string")
        return kid


def sig_structure(protected_bytes: bytes, payload: bytes, external_aad: bytes = b"") -> bytes:
    """The RFC 9052 Sig_structure for a COSE_Sign1, encoded by hand (it is on the hot path).

    Same bytes as cbor2.dumps(["Signature1", protected_bytes, external_aad, payload]).
    """
    return b"".join(
        (
            _SIG_STRUCTURE_HEAD,
            _bstr_head(len(protected_bytes)),
            protected_bytes,
            _bstr_head(len(external_aad)),
            external_aad,
            _bstr_head(len(payload)),
            payload,
        )
    )


_SIG_STRUCTURE_HEAD = b"\x84\x6aSignature1"  # array(4), text(10) "Signature1"


def _bstr_head(length: int) -> bytes:
    if length < 24:
        return bytes((0x40 | length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    if length < 0x100000000:
        return b"\x5a" + length.to_bytes(4, "big")
    return b"\x5b" + length.to_bytes(8, "big")


def sign1_ed25519(
    payload: bytes, key: ed25519.Ed25519PrivateKey, kid: bytes, *, cwt: bool = False
) -> bytes:
    """Sign `payload`; tagged 18, and wrapped in tag 61 when it is a CWT."""
    protected_bytes = cbor2.dumps({Header.ALG.value: Alg.EDDSA.value, Header.KID.value: kid})
    signature = key.sign(sig_structure(protected_bytes, payload))
    message: Any = cbor2.CBORTag(TAG_SIGN1, [protected_bytes, {}, payload, signature])
    if cwt:
        message = cbor2.CBORTag(TAG_CWT, message)
    return cbor2.dumps(message)


def decode_sign1(
    data: bytes,
    *,
    max_size: int,
    require_tag: bool = True,
    allow_cwt_tag: bool = True,
    allow_unprotected_alg: bool = False,
) -> Sign1:
    """Decode and check the structure. `allow_unprotected_alg` is the interop mode, for
    checks against other COSE implementations only: RFC 9052 lets `alg` and other headers
    sit unprotected. Permits, receipts, revocation lists and receipt acknowledgements never
    use it, so for them the unprotected map must be empty."""
    tags = _CWT_SIGN1_TAGS if allow_cwt_tag else _SIGN1_TAGS
    item = cbor.loads(data, max_size=max_size, tags=tags)
    if allow_cwt_tag and isinstance(item, cbor2.CBORTag) and item.tag == TAG_CWT:
        item = item.value
    if isinstance(item, cbor2.CBORTag):
        if item.tag != TAG_SIGN1:
            raise Malformed(f"unexpected CBOR tag {item.tag}")
        item = item.value
    elif require_tag:
        raise Malformed("COSE_Sign1 tag 18 missing")
    if not isinstance(item, list) or len(item) != 4:
        raise Malformed("COSE_Sign1 must be an array of four items")
    protected_bytes, unprotected, payload, signature = item
    if not isinstance(protected_bytes, bytes) or not isinstance(unprotected, dict):
        raise Malformed("COSE_Sign1 headers have the wrong types")
    if not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise Malformed("COSE_Sign1 payload and signature must be byte strings")
    protected = _decode_protected(protected_bytes)
    _check_headers(protected, unprotected, allow_unprotected_alg)
    return Sign1(protected_bytes, protected, unprotected, payload, signature, allow_unprotected_alg)


def verify_signature(message: Sign1, key: PublicKey, external_aad: bytes = b"") -> None:
    # An empty protected map is signed as a zero-length bstr (RFC 9052 section 3), however
    # it was sent; a permit never gets here with one, since its alg must be protected.
    protected_bytes = message.protected_bytes if message.protected else b""
    to_be_signed = sig_structure(protected_bytes, message.payload, external_aad)
    alg = message.alg
    try:
        if alg == Alg.EDDSA and isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(message.signature, to_be_signed)
            return
        if alg in _EC_HASHES and isinstance(key, ec.EllipticCurvePublicKey):
            hash_type = _EC_HASHES[alg]
            size = (key.curve.key_size + 7) // 8
            if len(message.signature) != 2 * size:
                raise BadSignature("ECDSA signature has the wrong length")
            r = int.from_bytes(message.signature[:size], "big")
            s = int.from_bytes(message.signature[size:], "big")
            key.verify(encode_dss_signature(r, s), to_be_signed, ec.ECDSA(hash_type()))
            return
    except InvalidSignature as err:
        raise BadSignature("signature does not verify") from err
    raise UnsupportedAlgorithm(f"algorithm {alg} does not match the key")


def _decode_protected(protected_bytes: bytes) -> dict[int, Any]:
    return dict(_decode_protected_bytes(protected_bytes))


# Every permit from one server key carries the same protected header bytes, so the checked
# decoding is remembered per byte string (a pure function of its input; refusals are not
# cached, and a small bound keeps memory fixed whatever a sender tries).
@functools.lru_cache(maxsize=32)
def _decode_protected_bytes(protected_bytes: bytes) -> dict[int, Any]:
    if protected_bytes == b"":
        return {}
    protected = cbor.loads(protected_bytes, max_size=len(protected_bytes), max_depth=3)
    if not isinstance(protected, dict):
        raise Malformed("protected header must be a map")
    return protected


def _check_headers(
    protected: dict[Any, Any], unprotected: dict[Any, Any], allow_unprotected_alg: bool
) -> None:
    both = protected.keys() & unprotected.keys()
    if both:
        raise Malformed(f"header labels {sorted(map(str, both))} in both buckets")
    if Header.ALG in unprotected and not allow_unprotected_alg:
        raise UnsupportedAlgorithm("alg is only trusted from the protected header")
    if Header.CRIT in unprotected:
        raise Malformed("crit must be protected")
    if unprotected and not allow_unprotected_alg:
        # Unsigned entries change the bytes but not the signature: a second form of one
        # message, which nothing here writes (the fuzzer found {3: -8} accepted).
        raise Malformed(f"unprotected header entries {sorted(map(str, unprotected))}")
    crit = protected.get(Header.CRIT)
    if crit is not None:
        if not isinstance(crit, list) or not crit:
            raise Malformed("crit must be a non-empty array")
        if not all(_is_label(label) for label in crit):
            raise Malformed("crit labels must be integers or text strings")
        unknown = [label for label in crit if label not in UNDERSTOOD_HEADERS]
        if unknown:
            raise Malformed(f"critical header labels not understood: {unknown}")
        missing = [label for label in crit if label not in protected]
        if missing:
            raise Malformed(f"critical header labels absent: {missing}")


def _is_label(label: Any) -> bool:
    return isinstance(label, int | str) and not isinstance(label, bool)
