"""Named attacks on the permit verifier: each is refused with its exact reason code."""

import time
from dataclasses import replace

import cbor2
import pytest

from device.protocol import ProtocolError, encode_permit, from_text, to_text, verify_permit
from device.protocol.cose import TAG_SIGN1, Header
from device.protocol.permit import DEFAULT_SKEW_S, MAX_PERMIT_SIZE
from tests.protocol import forge


def refusal(data: bytes, *, now: int = forge.NOW, revoked: frozenset[bytes] = frozenset()) -> str:
    with pytest.raises(ProtocolError) as caught:
        verify_permit(data, forge.trust(), device_id=forge.DEVICE_ID, now=now, revoked=revoked)
    return caught.value.code


def test_the_untouched_permit_is_accepted_so_each_refusal_below_is_the_attack():
    verified = verify_permit(forge.sign1(), forge.trust(), device_id=forge.DEVICE_ID, now=forge.NOW)
    assert verified == forge.claims()
    assert forge.sign1() == encode_permit(forge.claims(), forge.SERVER_KEY)


def test_alg_none_with_empty_signature():
    protected = {Header.ALG.value: "none", Header.KID.value: forge.SERVER_KEY.kid}
    assert refusal(forge.sign1(protected=protected, signature=b"")) == "unsupported_algorithm"


def test_no_alg_at_all():
    protected = {Header.KID.value: forge.SERVER_KEY.kid}
    assert refusal(forge.sign1(protected=protected)) == "unsupported_algorithm"


def test_alg_in_the_unprotected_header_only():
    message = forge.sign1(
        protected={Header.KID.value: forge.SERVER_KEY.kid},
        unprotected={Header.ALG.value: -8},
    )
    assert refusal(message) == "unsupported_algorithm"


def test_alg_in_both_buckets():
    message = forge.sign1(unprotected={Header.ALG.value: -8})
    assert refusal(message) == "malformed"


def test_hmac_keyed_with_the_public_key():
    protected = {Header.ALG.value: 5, Header.KID.value: forge.SERVER_KEY.kid}
    signer = forge.hmac_signer(forge.public_key_bytes())
    assert refusal(forge.sign1(protected=protected, signer=signer)) == "unsupported_algorithm"


def test_hmac_keyed_with_the_public_key_as_a_mac0_message():
    protected = {Header.ALG.value: 5, Header.KID.value: forge.SERVER_KEY.kid}
    signer = forge.hmac_signer(forge.public_key_bytes())
    message = forge.sign1(protected=protected, signer=signer, tags=(61, 17))
    assert refusal(message) == "malformed"


def test_unknown_critical_header():
    protected = forge.eddsa_protected(extra={Header.CRIT.value: [99], 99: 1})
    assert refusal(forge.sign1(protected=protected)) == "malformed"


def test_known_critical_header_is_fine():
    protected = forge.eddsa_protected(extra={Header.CRIT.value: [Header.KID.value]})
    verified = verify_permit(
        forge.sign1(protected=protected), forge.trust(), device_id=forge.DEVICE_ID, now=forge.NOW
    )
    assert verified.permit_id == forge.PERMIT_ID


def test_unknown_kid():
    protected = {Header.ALG.value: -8, Header.KID.value: b"\x00\x01\x02\x03"}
    assert refusal(forge.sign1(protected=protected)) == "unknown_key"


def test_untrusted_key_under_its_own_kid():
    message = forge.sign1(
        protected=forge.eddsa_protected(forge.OTHER_KEY),
        signer=forge.ed25519_signer(forge.OTHER_KEY),
    )
    assert refusal(message) == "unknown_key"


def test_valid_signature_by_another_key_under_the_trusted_kid():
    message = forge.sign1(signer=forge.ed25519_signer(forge.OTHER_KEY))
    assert refusal(message) == "bad_signature"


def test_payload_altered_after_signing():
    signed = forge.sign1()
    longer = forge.payload(forge.claims(expires_at=forge.NOW + 86_400))
    message = cbor2.loads(signed)
    message.value.value[2] = longer
    assert refusal(cbor2.dumps(message)) == "bad_signature"


def test_one_flipped_signature_bit():
    signed = bytearray(forge.sign1())
    signed[-1] ^= 0x01
    assert refusal(bytes(signed)) == "bad_signature"


def test_permit_for_another_device():
    other = forge.payload(forge.claims(device_id=forge.OTHER_DEVICE_ID))
    assert refusal(forge.sign1(other)) == "wrong_device"


def test_expired_at_the_window_end_exactly():
    assert refusal(forge.sign1(), now=forge.claims().expires_at) == "expired"


def test_expiry_gets_no_skew():
    assert refusal(forge.sign1(), now=forge.claims().expires_at + 1) == "expired"


def test_not_yet_valid_beyond_the_skew():
    early = forge.claims().not_before - DEFAULT_SKEW_S - 1
    assert refusal(forge.sign1(), now=early) == "not_yet_valid"


def test_replay_after_revocation():
    assert refusal(forge.sign1(), revoked=frozenset({forge.PERMIT_ID})) == "revoked"


def test_trailing_bytes_after_the_message():
    assert refusal(forge.sign1() + b"\x00") == "malformed"


def test_indefinite_length_cbor():
    with pytest.raises(ProtocolError, match="indefinite") as caught:
        verify_permit(
            forge.indefinite_permit(), forge.trust(), device_id=forge.DEVICE_ID, now=forge.NOW
        )
    assert caught.value.code == "malformed"


def test_deeply_nested_cbor():
    message = forge.sign1(unprotected={99: cbor2.loads(forge.nested_arrays(200))})
    with pytest.raises(ProtocolError, match="deeper") as caught:
        verify_permit(message, forge.trust(), device_id=forge.DEVICE_ID, now=forge.NOW)
    assert caught.value.code == "malformed"


def test_deep_nesting_alone_is_refused_without_recursion_trouble():
    assert refusal(forge.nested_arrays(100_000)[:MAX_PERMIT_SIZE]) == "malformed"


def test_oversize_signed_permit():
    huge = forge.payload(forge.claims(user_id="u" * MAX_PERMIT_SIZE))
    assert refusal(forge.sign1(huge)) == "too_large"


def test_ten_megabytes_are_refused_before_any_decoding():
    started = time.perf_counter()
    assert refusal(b"\xd8" * 10_000_000) == "too_large"
    assert time.perf_counter() - started < 0.5


def test_oversize_text_form():
    with pytest.raises(ProtocolError) as caught:
        from_text("PP1:" + "0" * 10_000_000, max_bytes=MAX_PERMIT_SIZE)
    assert caught.value.code == "too_large"


def test_duplicate_claim_key():
    body = forge.payload()
    duplicated = bytes([body[0] + 1]) + body[1:] + cbor2.dumps(3) + cbor2.dumps(forge.DEVICE_ID)
    assert refusal(forge.sign1(duplicated)) == "malformed"


def test_duplicate_header_label():
    valid = forge.sign1()
    protected = cbor2.dumps(forge.eddsa_protected())
    duplicated = bytes([protected[0] + 1]) + protected[1:] + b"\x01\x27"
    message = cbor2.loads(valid)
    message.value.value[0] = duplicated
    assert refusal(cbor2.dumps(message)) == "malformed"


def test_untagged_permit():
    assert refusal(forge.sign1(tags=())) == "malformed"


def test_sign1_tag_without_cwt_tag_is_accepted():
    message = forge.sign1(tags=(TAG_SIGN1,))
    assert verify_permit(message, forge.trust(), device_id=forge.DEVICE_ID, now=forge.NOW)


def test_semantic_tag_inside_the_claims():
    body = forge.payload()
    message = forge.sign1(cbor2.dumps({**cbor2.loads(body), 4: cbor2.CBORTag(1, forge.NOW)}))
    assert refusal(message) == "malformed"


def test_window_that_ends_before_it_starts():
    reversed_window = forge.claims(not_before=forge.NOW, expires_at=forge.NOW)
    assert refusal(forge.sign1(forge.payload(reversed_window))) == "malformed"


def test_short_permit_id():
    short = replace(forge.claims(), permit_id=b"\x01" * 8)
    assert refusal(forge.sign1(forge.payload(short))) == "malformed"


def test_text_form_round_trips_into_the_same_decision():
    data = from_text(to_text(forge.sign1()), max_bytes=MAX_PERMIT_SIZE)
    assert refusal(data, revoked=frozenset({forge.PERMIT_ID})) == "revoked"
