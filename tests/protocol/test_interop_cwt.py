"""python-cwt 3.3, an independent implementation, reads our permits and we read its tokens.

Its tokens carry the kid unprotected, a form our server never writes: the COSE layer's
interop mode verifies them, and the device refuses them (one accepted form per permit).

python-cwt takes a JWK `kid` as the UTF-8 bytes of the string; our JWK Sets carry the
base64url of the COSE kid bytes (docs/permit-format.md), so the COSE_Key is built from the
JWK's fields rather than with `COSEKey.from_jwk`.
"""

import time

import cbor2
import cwt
import pytest
from cryptography.hazmat.primitives import serialization
from cwt import COSEKey

from device.protocol import PermitClaims, ProtocolError, encode_permit, read_permit
from device.protocol.cose import decode_sign1, verify_signature
from device.protocol.keys import b64url_decode, public_jwk
from device.protocol.permit import MAX_PERMIT_SIZE
from tests.protocol import forge


def cose_key_from_jwk(jwk: dict[str, str], seed: bytes | None = None) -> COSEKey:
    params = {1: 1, 3: -8, -1: 6, -2: b64url_decode(jwk["x"]), 2: b64url_decode(jwk["kid"])}
    if seed is not None:
        params[-4] = seed
    return COSEKey.new(params)


def current_claims() -> PermitClaims:
    """python-cwt checks exp and nbf against the real clock, so this window holds now."""
    now = int(time.time())
    return forge.claims(not_before=now - 60, expires_at=now + 3600, issued_at=now - 120)


def test_python_cwt_verifies_our_permit_and_reads_every_claim():
    claims = current_claims()
    jwk = public_jwk(forge.SERVER_KEY.public_key)
    decoded = cwt.decode(encode_permit(claims, forge.SERVER_KEY), cose_key_from_jwk(jwk))
    assert decoded == {
        1: claims.issuer,
        2: claims.user_id,
        3: claims.device_id,
        4: claims.expires_at,
        5: claims.not_before,
        6: claims.issued_at,
        7: claims.permit_id,
        -65537: {1: claims.request_id, 2: claims.max_energy_wh, 3: claims.max_power_w},
    }


def test_python_cwt_refuses_our_permit_under_another_key():
    other = public_jwk(forge.OTHER_KEY.public_key)
    other_key = cose_key_from_jwk({**other, "kid": public_jwk(forge.SERVER_KEY.public_key)["kid"]})
    with pytest.raises(cwt.VerifyError):
        cwt.decode(encode_permit(current_claims(), forge.SERVER_KEY), other_key)


def test_we_verify_a_permit_python_cwt_signed_but_the_device_takes_only_our_form():
    claims = current_claims()
    jwk = public_jwk(forge.SERVER_KEY.public_key)
    seed = forge.SERVER_KEY.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    token = cwt.encode(claims.to_cbor_map(), cose_key_from_jwk(jwk, seed), tagged=True)
    assert token != encode_permit(claims, forge.SERVER_KEY)  # python-cwt puts kid unprotected
    message = decode_sign1(token, max_size=MAX_PERMIT_SIZE, allow_unprotected_alg=True)
    verify_signature(message, forge.SERVER_KEY.public_key)  # the interop mode verifies it
    assert PermitClaims.from_cbor_map(cbor2.loads(message.payload)) == claims
    with pytest.raises(ProtocolError) as caught:  # an unprotected kid: not the server's form
        read_permit(token, forge.trust())
    assert caught.value.code == "malformed"
