"""A charger's trust list updated by a server-signed trust-list document, over the real link.

The document carries a sequence, one device id and the whole new key list; the charger takes
it only when a key it trusts now signed it. Every refusal says why and leaves the trust list,
on disk and in use, as it was.
"""

import json
from pathlib import Path

import httpx

from device.config import init_state, load_config
from device.protocol.keys import SigningKey, TrustList, b64url
from device.protocol.signed import sign_map
from device.protocol.trust_update import TrustListDocument, encode_trust_document
from tests.device.conftest import DEVICE_ID, T0, Rig, Server

NEXT_KEY = SigningKey.generate()


def document(
    keys: list[SigningKey],
    sequence: int,
    *,
    signed_by: SigningKey,
    device_id: str = DEVICE_ID,
    at: int = T0,
) -> bytes:
    doc = TrustListDocument(device_id, sequence, tuple(k.public_key for k in keys), at)
    return encode_trust_document(doc, signed_by)


def post(http: httpx.Client, token: bytes) -> httpx.Response:
    return http.post("/link/trust", json={"trust": b64url(token)})


def test_a_rotation_reaches_the_charger_through_the_link(
    http: httpx.Client, rig: Rig, server: Server
) -> None:
    new_permit = server.permit(T0, key=NEXT_KEY)
    assert http.post("/link/permit", json={"permit": b64url(new_permit)}).json()["reason"] == (
        "unknown_key"
    )
    answer = post(http, document([server.key, NEXT_KEY], 1, signed_by=server.key))
    assert answer.status_code == 200
    assert answer.json() == {
        "accepted": True,
        "sequence": 1,
        "trusted_keys": [b64url(server.key.kid), b64url(NEXT_KEY.kid)],
    }
    info = http.get("/link/info").json()
    assert (info["trust_sequence"], len(info["trusted_keys"])) == (1, 2)
    assert http.post("/link/permit", json={"permit": b64url(new_permit)}).json()["accepted"]


def test_the_new_list_survives_a_power_loss(rig: Rig, server: Server) -> None:
    rig.charger.apply_trust_update(document([NEXT_KEY], 4, signed_by=server.key))
    rig.config = load_config(rig.config.state_dir)  # what a restarted charger reads
    charger = rig.restart()
    assert charger.config.trust_sequence == 4
    assert charger.evaluate(server.permit(T0, key=NEXT_KEY)).accepted
    assert charger.evaluate(server.permit(T0)).reason == "unknown_key"  # dropped: pruned
    replayed = charger.apply_trust_update(document([server.key], 3, signed_by=NEXT_KEY))
    assert replayed["reason"] == "superseded"


def test_a_key_left_out_is_no_longer_trusted(rig: Rig, server: Server) -> None:
    old_permit = server.permit(T0)
    assert rig.charger.evaluate(old_permit).accepted
    assert rig.charger.apply_trust_update(document([NEXT_KEY], 1, signed_by=server.key))["accepted"]
    assert rig.charger.evaluate(old_permit).reason == "unknown_key"


def unchecked(keys: list[SigningKey], sequence: int, *, signed_by: SigningKey) -> bytes:
    """A document the server would never make, signed by a trusted key all the same."""
    doc = TrustListDocument(DEVICE_ID, sequence, tuple(k.public_key for k in keys), T0)
    return sign_map(doc.to_cbor_map(), signed_by)


def refusals(server: Server) -> dict[str, tuple[bytes, str]]:
    """Each kind of bad document, and the reason the charger must give."""
    both = [server.key, NEXT_KEY]
    good = document(both, 5, signed_by=server.key)
    return {
        "forged by a stranger": (document(both, 6, signed_by=SigningKey.generate()), "unknown_key"),
        "signature tampered": (good[:-1] + bytes([good[-1] ^ 1]), "bad_signature"),
        "replayed": (good, "superseded"),
        "older": (document(both, 4, signed_by=server.key), "superseded"),
        "for another charger": (
            document(both, 9, signed_by=server.key, device_id="charger-2"),
            "wrong_device",
        ),
        "no keys at all": (unchecked([], 9, signed_by=server.key), "malformed"),
        "nine keys": (unchecked([SigningKey.generate()] * 9, 9, signed_by=server.key), "malformed"),
    }


def test_bad_documents_are_refused_with_their_reason_and_change_nothing(
    http: httpx.Client, rig: Rig, server: Server
) -> None:
    cases = refusals(server)
    assert post(http, cases["replayed"][0]).status_code == 200  # sequence 5 held from here on
    trust_file = rig.config.state_dir / "trust.json"
    before = (trust_file.read_bytes(), http.get("/link/info").json()["trusted_keys"])
    for name, (token, reason) in cases.items():
        answer = post(http, token)
        assert answer.json()["accepted"] is False, name
        assert answer.json()["reason"] == reason, name
        assert answer.status_code == (400 if reason == "malformed" else 403), name
        after = (trust_file.read_bytes(), http.get("/link/info").json()["trusted_keys"])
        assert after == before, name
    assert rig.charger.config.trust_sequence == 5


def test_the_trust_route_takes_json_only(http: httpx.Client, server: Server) -> None:
    token = b64url(document([server.key], 1, signed_by=server.key))
    form = http.post("/link/trust", content=token, headers={"Content-Type": "text/plain"})
    assert (form.status_code, form.json()["reason"]) == (415, "unsupported_media_type")
    assert http.get("/link/info").json()["trust_sequence"] is None


def test_setting_the_trust_file_by_hand_keeps_the_sequence(
    tmp_path: Path, rig: Rig, server: Server
) -> None:
    """Re-running `init` must not make older signed documents acceptable again."""
    rig.charger.apply_trust_update(document([server.key, NEXT_KEY], 7, signed_by=server.key))
    config = init_state(rig.config.state_dir, DEVICE_ID, TrustList([server.key.public_key]))
    assert config.trust_sequence == 7
    assert json.loads((rig.config.state_dir / "trust.json").read_text())["sequence"] == 7
