"""Hypothesis strategies: arbitrary CBOR values, byte mutations, permit claims."""

from typing import Any

import cbor2
from hypothesis import strategies as st

from device.protocol.cose import TAG_CWT, TAG_SIGN1
from device.protocol.permit import PERMIT_ID_SIZE, PermitClaims

INT64 = st.integers(min_value=-(2**64), max_value=2**64 - 1)
LABELS = st.one_of(st.integers(-70_000, 70_000), st.text(max_size=4))
TAGS = st.sampled_from([0, 1, 2, 3, 18, 28, 29, 30, 35, 37, 61, 258, 998])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    INT64,
    st.floats(allow_nan=True),
    st.binary(max_size=40),
    st.text(max_size=20),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(LABELS, children, max_size=5),
        st.builds(cbor2.CBORTag, TAGS, children),
    )


cbor_values = st.recursive(scalars, _containers, max_leaves=20)
cbor_bytes = cbor_values.map(cbor2.dumps)


@st.composite
def sign1_shaped(draw: st.DrawFn) -> bytes:
    """Tagged four-item arrays whose parts are random: they get past the outer checks."""
    protected = draw(st.one_of(st.dictionaries(LABELS, cbor_values, max_size=4), cbor_values))
    parts = [
        cbor2.dumps(protected),
        draw(st.dictionaries(LABELS, cbor_values, max_size=3)),
        draw(st.one_of(st.binary(max_size=120), cbor_bytes)),
        draw(st.binary(min_size=60, max_size=68)),
    ]
    return cbor2.dumps(cbor2.CBORTag(TAG_CWT, cbor2.CBORTag(TAG_SIGN1, parts)))


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """`original` after one to four byte flips, truncations, insertions or deletions."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "set"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0x18, 0x1F, 0x5F, 0x9F, 0xBF, 0xFF, 0xF6]))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
    return bytes(data)


def claims_strategy() -> st.SearchStrategy[PermitClaims]:
    epoch = st.integers(0, 2**40)
    ids = st.text(min_size=1, max_size=24)
    optional_limit = st.one_of(st.none(), st.integers(0, 2**31))
    return st.builds(
        lambda start, length, **kw: PermitClaims(not_before=start, expires_at=start + length, **kw),
        start=epoch,
        length=st.integers(1, 10**6),
        issuer=ids,
        user_id=ids,
        device_id=ids,
        issued_at=epoch,
        permit_id=st.binary(min_size=PERMIT_ID_SIZE, max_size=PERMIT_ID_SIZE),
        request_id=ids,
        max_energy_wh=optional_limit,
        max_power_w=optional_limit,
    )


@st.composite
def tampered_claim_maps(draw: st.DrawFn, base: dict[int, Any]) -> dict[Any, Any]:
    """A valid claim map with values replaced by random CBOR, keys dropped or added."""
    claims = dict(base)
    for key in draw(st.lists(st.sampled_from(sorted(claims)), max_size=3, unique=True)):
        if draw(st.booleans()):
            claims[key] = draw(cbor_values)
        else:
            del claims[key]
    claims.update(draw(st.dictionaries(LABELS, cbor_values, max_size=2)))
    return claims
