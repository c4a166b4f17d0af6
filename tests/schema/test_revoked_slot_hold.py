"""A withdrawn permit keeps its slot until its window has passed ("cancel, then rebook").

An offline charger still honours a cancelled or revoked permit until the revocation list
reaches it. Had the slot gone to another driver, the first could charge on the withdrawn
permit and the second be refused at the charger. Booking over such a slot is denied with
its own reason, the availability shows it taken, and it frees once the window has passed.
"""

from datetime import timedelta

from app.services.container import Services
from app.services.usage import expire_overdue
from app.store.requests import UsageRequests
from tests.conftest import Clock, GraphQLClient
from tests.schema.queries import CANCEL, REVOKE
from tests.schema.test_request_usage import ask

AVAILABILITY = """
query ($from: DateTime!, $to: DateTime!) {
  device(id: "ch-1") { availability(from: $from, to: $to) { taken { startsAt endsAt } } }
}
"""


def codes(result: dict) -> list[str]:
    return [reason["code"] for reason in result["reasons"]]


async def test_a_cancelled_permits_slot_is_not_rebooked_until_its_window_has_passed(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services
) -> None:
    start = clock.now + timedelta(hours=1)
    first = await ask(gql, tokens["user"], start, 60)
    assert first["permit"] is not None
    await gql(CANCEL, {"id": first["id"]}, tokens["user"])

    rebook = await ask(gql, tokens["user2"], start + timedelta(minutes=30), 60)
    assert rebook["__typename"] == "RequestDenied"
    assert codes(rebook) == ["slot_held_by_revoked_permit"]
    assert "withdrawn" in rebook["reasons"][0]["message"]
    window = {"from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()}
    taken = (await gql(AVAILABILITY, window, tokens["user2"]))["data"]["device"]
    assert len(taken["availability"]["taken"]) == 1
    # Right after the withdrawn window, the device is free.
    assert (await ask(gql, tokens["user2"], start + timedelta(hours=1), 60))["status"] == (
        "APPROVED"
    )

    clock.advance(timedelta(hours=2, minutes=1))  # the window has passed
    await expire_overdue(services)
    released = await services.db.read(lambda conn: UsageRequests(conn).get(first["id"]))
    assert released is not None and not released.holds_slot
    assert released.status.value == "CANCELLED"


async def test_a_revoked_permits_slot_is_held_too(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    start = clock.now + timedelta(hours=2)
    first = await ask(gql, tokens["user"], start, 60)
    await gql(REVOKE, {"id": first["permit"]["id"], "reason": "misuse"}, tokens["manager"])

    rebook = await ask(gql, tokens["user2"], start - timedelta(minutes=30), 60)
    assert codes(rebook) == ["slot_held_by_revoked_permit"]
