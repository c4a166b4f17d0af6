"""Receipts ride home and complete requests; revocations ride out on a signed list."""

from datetime import timedelta
from typing import Any

from app.services.container import Services
from app.store.audit import AuditLog
from device.protocol import SigningKey, TrustList
from device.protocol.keys import b64url, b64url_decode
from device.protocol.receipt import Receipt, encode_receipt
from device.protocol.revocation import read_revocation_list
from tests.conftest import Clock, GraphQLClient
from tests.schema.commissioning import registration
from tests.schema.queries import CANCEL, GET_REQUEST, REVOKE
from tests.schema.test_request_usage import ask

REGISTER = """
mutation ($key: String!, $proof: String!) {
  registerDevice(
    input: {id: "ch-1", name: "Bay 1", siteId: "site-1", publicKey: $key, proof: $proof}
  ) {
    __typename ... on Device { id commissioned } ... on InvalidInput { message }
  }
}
"""
SUBMIT = """
mutation ($tokens: [String!]!) {
  submitReceipts(tokens: $tokens) { status reason permitId usageRequestId energyWh }
}
"""
REVOCATIONS = '{ revocationList(deviceId: "ch-1") { sequence permitIds token } }'


def receipt_for(permit: dict[str, Any], request_id: str, counter: int, energy: float) -> Receipt:
    return Receipt(
        device_id="ch-1",
        permit_id=bytes.fromhex(permit["id"]),
        counter=counter,
        started_at=1,
        stopped_at=2,
        energy_wh=energy,
        stop_reason="window_end",
        request_id=request_id,
    )


async def test_a_receipt_completes_its_request_once_and_forgeries_are_refused(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    device_key = SigningKey.generate()
    registered = await gql(REGISTER, registration(device_key), tokens["manager"])
    assert registered["data"]["registerDevice"] == {
        "__typename": "Device",
        "id": "ch-1",
        "commissioned": True,
    }
    asked = await ask(gql, tokens["user"], clock.now + timedelta(minutes=5), 60)
    receipt = b64url(
        encode_receipt(receipt_for(asked["permit"], asked["id"], 7, 5123.5), device_key)
    )
    forged = b64url(
        encode_receipt(receipt_for(asked["permit"], asked["id"], 8, 1.0), SigningKey.generate())
    )

    body = await gql(SUBMIT, {"tokens": [receipt, receipt, forged, "garbage!"]}, tokens["user2"])
    results = body["data"]["submitReceipts"]
    assert [r["status"] for r in results] == ["ACCEPTED", "DUPLICATE", "INVALID", "INVALID"]
    assert results[0]["usageRequestId"] == asked["id"]
    assert results[2]["reason"] == "unknown_key"
    assert results[3]["reason"] == "malformed"

    again = await gql(SUBMIT, {"tokens": [receipt]}, tokens["user"])
    assert again["data"]["submitReceipts"][0]["status"] == "DUPLICATE"
    seen = (await gql(GET_REQUEST, {"id": asked["id"]}, tokens["user"]))["data"]["usageRequest"]
    assert seen["status"] == "COMPLETED"
    assert seen["energyWh"] == 5123.5


async def test_registering_a_device_with_a_bad_key_is_an_input_error(
    gql: GraphQLClient, tokens: dict[str, str]
) -> None:
    body = await gql(REGISTER, {"key": "not-a-key", "proof": ""}, tokens["manager"])
    assert body["data"]["registerDevice"]["__typename"] == "InvalidInput"


async def test_revoking_or_cancelling_puts_the_permit_on_a_newer_signed_list(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services
) -> None:
    trust = TrustList([services.signer.key.public_key])
    first = await ask(gql, tokens["user"], clock.now + timedelta(hours=1), 60)
    second = await ask(gql, tokens["user"], clock.now + timedelta(hours=3), 60)
    initial = (await gql(REVOCATIONS, token=tokens["user"]))["data"]["revocationList"]

    revoked = await gql(
        REVOKE, {"id": first["permit"]["id"], "reason": "misuse"}, tokens["manager"]
    )
    assert revoked["data"]["revokePermit"]["usageRequest"]["status"] == "REVOKED"
    assert revoked["data"]["revokePermit"]["permit"]["revoked"] is True
    cancelled = await gql(CANCEL, {"id": second["id"]}, tokens["user"])
    assert cancelled["data"]["cancelUsageRequest"]["status"] == "CANCELLED"

    latest = (await gql(REVOCATIONS, token=tokens["user2"]))["data"]["revocationList"]
    assert latest["sequence"] == initial["sequence"] + 2
    signed = read_revocation_list(b64url_decode(latest["token"]), trust, device_id="ch-1")
    assert signed.sequence == latest["sequence"]
    assert {p.hex() for p in signed.permit_ids} == {first["permit"]["id"], second["permit"]["id"]}

    twice = await gql(REVOKE, {"id": first["permit"]["id"], "reason": "again"}, tokens["manager"])
    assert twice["data"]["revokePermit"]["__typename"] == "InvalidTransition"


async def test_every_state_change_leaves_an_audit_row_with_before_and_after(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services
) -> None:
    asked = await ask(gql, tokens["user"], clock.now + timedelta(hours=1), 60)
    await gql(REVOKE, {"id": asked["permit"]["id"], "reason": "misuse"}, tokens["manager"])
    rows = await services.db.read(
        lambda conn: AuditLog(conn).for_entity("usage_request", asked["id"])
    )
    assert [(r["action"], r["actor_id"]) for r in rows] == [("request", "u1"), ("revoke", "m1")]
    assert rows[0]["before"] is None and rows[0]["after"]["status"] == "APPROVED"
    assert rows[1]["before"]["status"] == "APPROVED" and rows[1]["after"]["status"] == "REVOKED"
