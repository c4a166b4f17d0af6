"""A receipt is one receipt across re-commissioning, and the server signs what it stored."""

from datetime import timedelta

from app.services.container import Services
from device.protocol import SigningKey
from device.protocol.acknowledgement import read_acknowledgement
from device.protocol.keys import b64url, b64url_decode
from device.protocol.receipt import encode_receipt, receipt_digest
from tests.conftest import Clock, GraphQLClient
from tests.schema.commissioning import registration
from tests.schema.queries import GET_REQUEST
from tests.schema.test_receipts_and_revocation import REGISTER, receipt_for
from tests.schema.test_request_usage import ask

SUBMIT = """
mutation ($tokens: [String!]!) {
  submitReceipts(tokens: $tokens) { status reason usageRequestId acknowledgement }
}
"""


async def commission(gql: GraphQLClient, manager: str) -> SigningKey:
    key = SigningKey.generate()
    body = await gql(REGISTER, registration(key), manager)
    assert body["data"]["registerDevice"]["__typename"] == "Device", body
    return key


async def test_a_recommissioned_devices_first_receipt_is_not_taken_for_a_duplicate(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    old_key = await commission(gql, tokens["manager"])
    first = await ask(gql, tokens["user"], clock.now + timedelta(minutes=5), 60)
    old = b64url(encode_receipt(receipt_for(first["permit"], first["id"], 1, 100.0), old_key))
    accepted = await gql(SUBMIT, {"tokens": [old]}, tokens["user"])
    assert accepted["data"]["submitReceipts"][0]["status"] == "ACCEPTED"

    new_key = await commission(gql, tokens["manager"])  # new key: the counter starts again
    second = await ask(gql, tokens["user"], clock.now + timedelta(hours=3), 60)
    new = b64url(encode_receipt(receipt_for(second["permit"], second["id"], 1, 4200.0), new_key))
    body = await gql(SUBMIT, {"tokens": [new, new]}, tokens["user"])
    assert [r["status"] for r in body["data"]["submitReceipts"]] == ["ACCEPTED", "DUPLICATE"]
    seen = (await gql(GET_REQUEST, {"id": second["id"]}, tokens["user"]))["data"]["usageRequest"]
    assert (seen["status"], seen["energyWh"]) == ("COMPLETED", 4200.0)


async def test_stored_receipts_come_back_with_the_servers_signed_acknowledgement(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services
) -> None:
    key = await commission(gql, tokens["manager"])
    asked = await ask(gql, tokens["user"], clock.now + timedelta(minutes=5), 60)
    raw = encode_receipt(receipt_for(asked["permit"], asked["id"], 1, 10.0), key)
    stored = b64url(raw)
    await gql(SUBMIT, {"tokens": [stored]}, tokens["user"])
    forged = b64url(
        encode_receipt(receipt_for(asked["permit"], asked["id"], 2, 1.0), SigningKey.generate())
    )

    body = await gql(SUBMIT, {"tokens": [stored, forged]}, tokens["user"])
    duplicate, invalid = body["data"]["submitReceipts"]
    assert (duplicate["status"], invalid["status"]) == ("DUPLICATE", "INVALID")
    assert invalid["acknowledgement"] is None  # the device keeps what the server refused
    ack = read_acknowledgement(
        b64url_decode(duplicate["acknowledgement"]), services.signer.key_set(), device_id="ch-1"
    )
    assert ack.receipts == {receipt_digest(raw)}
