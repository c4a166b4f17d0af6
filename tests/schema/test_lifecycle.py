"""The rest of a request's life: rejection, cancellation, expiry, and what each frees."""

from datetime import timedelta

from app.services.container import Services
from app.services.usage import expire_overdue
from device.protocol import SigningKey
from device.protocol.keys import b64url
from device.protocol.receipt import encode_receipt
from tests.conftest import Clock, GraphQLClient
from tests.schema.commissioning import registration
from tests.schema.queries import CANCEL, GET_REQUEST, LIST_REQUESTS, REJECT
from tests.schema.test_receipts_and_revocation import REGISTER, SUBMIT, receipt_for
from tests.schema.test_request_usage import ask

AVAILABILITY = """
query ($from: DateTime!, $to: DateTime!) {
  device(id: "ch-1") { availability(from: $from, to: $to) {
    free { startsAt endsAt } taken { startsAt endsAt } } }
}
"""


async def status_of(gql: GraphQLClient, token: str, request_id: str) -> str:
    body = await gql(GET_REQUEST, {"id": request_id}, token)
    return body["data"]["usageRequest"]["status"]


async def test_a_rejected_request_keeps_the_managers_reason_and_frees_the_slot(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    start = clock.now + timedelta(hours=2)
    pending = await ask(gql, tokens["user"], start, 180)
    blocked = await ask(gql, tokens["user2"], start, 60)
    assert [r["code"] for r in blocked["reasons"]] == ["slot_taken"]

    body = await gql(REJECT, {"id": pending["id"], "reason": "site maintenance"}, tokens["manager"])
    assert body["data"]["rejectUsageRequest"]["status"] == "REJECTED"
    seen = (await gql(GET_REQUEST, {"id": pending["id"]}, tokens["user"]))["data"]["usageRequest"]
    assert seen["decision"]["outcome"] == "REJECTED"
    assert (await ask(gql, tokens["user2"], start, 60))["status"] == "APPROVED"


async def test_a_driver_cancels_a_waiting_request_but_not_twice(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    pending = await ask(gql, tokens["user"], clock.now + timedelta(hours=2), 180)
    first = await gql(CANCEL, {"id": pending["id"]}, tokens["user"])
    assert first["data"]["cancelUsageRequest"]["status"] == "CANCELLED"
    seen = (await gql(GET_REQUEST, {"id": pending["id"]}, tokens["user"]))["data"]["usageRequest"]
    assert seen["decision"]["outcome"] == "NEEDS_MANAGER"  # nobody decided before it ended
    second = await gql(CANCEL, {"id": pending["id"]}, tokens["user"])
    assert second["data"]["cancelUsageRequest"]["__typename"] == "InvalidTransition"


async def test_a_passed_window_expires_and_a_late_receipt_still_completes_it(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services
) -> None:
    device_key = SigningKey.generate()
    registered = await gql(REGISTER, registration(device_key), tokens["manager"])
    assert registered["data"]["registerDevice"]["__typename"] == "Device", registered
    approved = await ask(gql, tokens["user"], clock.now + timedelta(minutes=5), 30)
    waiting = await ask(gql, tokens["user"], clock.now + timedelta(hours=1), 150)
    clock.advance(timedelta(hours=4))

    assert await expire_overdue(services) == 2
    assert await status_of(gql, tokens["user"], approved["id"]) == "EXPIRED"
    assert await status_of(gql, tokens["user"], waiting["id"]) == "EXPIRED"
    assert await expire_overdue(services) == 0

    receipt = receipt_for(approved["permit"], approved["id"], 1, 2100.0)
    token = b64url(encode_receipt(receipt, device_key))
    body = await gql(SUBMIT, {"tokens": [token]}, tokens["user"])
    assert body["data"]["submitReceipts"][0]["status"] == "ACCEPTED"
    assert await status_of(gql, tokens["user"], approved["id"]) == "COMPLETED"


async def test_availability_shows_the_taken_slots_and_the_gaps_between_them(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    start = clock.now + timedelta(hours=1)
    await ask(gql, tokens["user"], start, 60)
    await ask(gql, tokens["user2"], start + timedelta(hours=2), 30)
    window = {"from": start.isoformat(), "to": (start + timedelta(hours=4)).isoformat()}
    body = await gql(AVAILABILITY, window, tokens["user"])
    found = body["data"]["device"]["availability"]
    assert len(found["taken"]) == 2
    assert [(f["startsAt"], f["endsAt"]) for f in found["free"]] == [
        ((start + timedelta(hours=1)).isoformat(), (start + timedelta(hours=2)).isoformat()),
        ((start + timedelta(hours=2, minutes=30)).isoformat(), window["to"]),
    ]
    backwards = await gql(
        AVAILABILITY, {"from": window["to"], "to": window["from"]}, tokens["user"]
    )
    assert "at most 31 days" in backwards["errors"][0]["message"]


async def test_pages_follow_their_cursors_without_gaps_or_repeats(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    ids = []
    for hour in range(3):
        ids.append(
            (await ask(gql, tokens["user"], clock.now + timedelta(hours=hour + 1), 30))["id"]
        )
    seen, after = [], None
    while True:
        body = await gql(LIST_REQUESTS, {"first": 2, "after": after}, tokens["user"])
        connection = body["data"]["usageRequests"]
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == list(reversed(ids))
    bad = await gql(LIST_REQUESTS, {"first": 2, "after": "nonsense"}, tokens["user"])
    assert "Invalid cursor" in bad["errors"][0]["message"]
    too_many = await gql(LIST_REQUESTS, {"first": 1000}, tokens["user"])
    assert "between 1 and 100" in too_many["errors"][0]["message"]
