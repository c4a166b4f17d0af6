"""Round trips and the time window, as properties over generated claims and instants."""

import base45
import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.protocol import (
    PermitClaims,
    ProtocolError,
    cbor,
    encode_permit,
    from_text,
    read_permit,
    to_text,
    verify_permit,
)
from device.protocol.cose import sig_structure
from device.protocol.permit import DEFAULT_SKEW_S, MAX_PERMIT_SIZE
from device.protocol.text import looks_like_text
from tests.protocol import forge
from tests.protocol.strategies import INT64, LABELS, claims_strategy

PROPERTY = settings(max_examples=300, deadline=None)


@PROPERTY
@given(claims_strategy())
def test_encode_then_read_gives_the_same_claims(claims: PermitClaims) -> None:
    data = encode_permit(claims, forge.SERVER_KEY)
    if len(data) > MAX_PERMIT_SIZE:
        with pytest.raises(ProtocolError) as caught:
            read_permit(data, forge.trust())
        assert caught.value.code == "too_large"
    else:
        assert read_permit(data, forge.trust()) == claims


@PROPERTY
@given(st.binary(max_size=MAX_PERMIT_SIZE))
def test_text_form_round_trips_any_bytes(data: bytes) -> None:
    text = to_text(data)
    assert looks_like_text(text.encode())
    assert set(text[4:]) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    assert from_text(text, max_bytes=MAX_PERMIT_SIZE) == data


@PROPERTY
@given(st.binary(max_size=MAX_PERMIT_SIZE))
def test_text_form_is_rfc_9285_base45_as_the_reference_package_writes_it(data: bytes) -> None:
    assert to_text(data) == "PP1:" + base45.b45encode(data).decode("ascii")


@given(claims_strategy())
def test_text_form_of_a_permit_reads_back(claims: PermitClaims) -> None:
    data = encode_permit(claims, forge.SERVER_KEY)
    assert from_text(" " + to_text(data) + "\n", max_bytes=len(data)) == data


@PROPERTY
@given(st.integers(forge.NOW - 7200, forge.NOW + 7200), st.integers(0, 600))
def test_accepted_exactly_inside_the_window_with_skew_on_the_start(now: int, skew: int) -> None:
    claims = forge.claims()
    data = encode_permit(claims, forge.SERVER_KEY)
    inside = claims.not_before - skew <= now < claims.expires_at
    try:
        verify_permit(data, forge.trust(), device_id=forge.DEVICE_ID, now=now, skew_s=skew)
        decision = "accepted"
    except ProtocolError as refusal:
        decision = refusal.code
    expected = (
        "accepted" if inside else ("expired" if now >= claims.expires_at else "not_yet_valid")
    )
    assert decision == expected


def test_default_skew_is_sixty_seconds_on_the_start_only():
    data = encode_permit(forge.claims(), forge.SERVER_KEY)
    opens = forge.claims().not_before
    trust = forge.trust()
    assert verify_permit(data, trust, device_id=forge.DEVICE_ID, now=opens - DEFAULT_SKEW_S)
    with pytest.raises(ProtocolError):
        verify_permit(data, trust, device_id=forge.DEVICE_ID, now=opens - DEFAULT_SKEW_S - 1)


@PROPERTY
@given(st.binary(max_size=300), st.binary(max_size=300), st.binary(max_size=30))
def test_sig_structure_is_the_rfc_9052_array(protected: bytes, body: bytes, aad: bytes) -> None:
    expected = cbor2.dumps(["Signature1", protected, aad, body])
    assert sig_structure(protected, body, aad) == expected


untagged_values = st.recursive(
    st.one_of(st.none(), st.booleans(), INT64, st.floats(allow_nan=False), st.binary(), st.text()),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(LABELS, children, max_size=4)
    ),
    max_leaves=25,
)


@PROPERTY
@given(untagged_values)
def test_the_bounded_reader_takes_whatever_cbor2_writes_without_tags(value: object) -> None:
    assert cbor.loads(cbor2.dumps(value), max_size=1 << 20, max_depth=64) == value
