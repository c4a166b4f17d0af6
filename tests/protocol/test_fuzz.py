"""Hypothesis fuzzing of the permit reader: nothing but the original is accepted, and every
refusal is a ProtocolError (any other exception fails the test as it propagates)."""

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device.protocol import ProtocolError, encode_permit, from_text, read_permit
from device.protocol.permit import MAX_PERMIT_SIZE
from tests.protocol import forge, oracle
from tests.protocol.strategies import (
    cbor_bytes,
    mutated,
    sign1_shaped,
    tampered_claim_maps,
)

VALID = encode_permit(forge.claims(), forge.SERVER_KEY)
ACCEPTABLE = oracle.acceptable_forms(VALID)
FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_original_is_accepted_so_refusals_below_mean_something():
    assert all(oracle.decide(form) == "accepted" for form in ACCEPTABLE)


@FUZZ
@given(mutated(VALID))
def test_mutated_permits_are_refused(data: bytes) -> None:
    decision = oracle.decide(data)
    assert decision != "accepted" or data in ACCEPTABLE


@settings(FUZZ, max_examples=1000)
@given(cbor_bytes)
def test_random_cbor_is_refused(data: bytes) -> None:
    assert oracle.decide(data) != "accepted"
    assert oracle.decide_revocation_list(data) != "accepted"


@settings(FUZZ, max_examples=500)
@given(sign1_shaped())
def test_random_sign1_shaped_messages_are_refused(data: bytes) -> None:
    assert oracle.decide(data) != "accepted"


@settings(FUZZ, max_examples=500)
@given(tampered_claim_maps(forge.claims().to_cbor_map()))
def test_signed_odd_claims_are_read_or_refused_cleanly(claim_map: dict) -> None:
    data = forge.sign1(cbor2.dumps(claim_map))
    try:
        claims = read_permit(data, forge.trust())
    except ProtocolError:
        return
    assert claims.to_cbor_map() == {key: claim_map[key] for key in claims.to_cbor_map()}


@settings(FUZZ, max_examples=500)
@given(st.text(max_size=300).map(lambda body: "PP1:" + body))
def test_random_text_forms_are_refused(text: str) -> None:
    try:
        data = from_text(text, max_bytes=MAX_PERMIT_SIZE)
    except ProtocolError:
        return
    assert oracle.decide(data) != "accepted" or data in ACCEPTABLE


def test_the_make_fuzz_script_runs_clean():
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.protocol.fuzz_permits",
            "--runs",
            "3000",
            "--engine",
            "random",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3,000 inputs" in done.stdout
    assert "accepted beyond the seeds: 0; crashes: 0" in done.stdout
