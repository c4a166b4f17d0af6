"""Permits are issued only within PERMIT_LEAD (24 h) before their window.

An approved request further out has no permit yet and says when it will
(`permitAvailableAt`); the driver collects it inside the lead (`collectPermit`, the same
permit every time) or the sweep issues it and subscribers hear of it. Cancelling before
the permit exists revokes nothing: no list grows, and the slot is free again at once.
"""

from datetime import timedelta
from typing import Any

from app.domain.permits import PERMIT_LEAD
from app.services.container import Services
from app.services.usage import issue_due_permits
from tests.conftest import Clock, GraphQLClient, iso
from tests.schema.queries import APPROVE, CANCEL, GET_REQUEST, REQUEST_FIELDS
from tests.schema.test_request_usage import ask

COLLECT = f"""
mutation ($id: ID!) {{
  collectPermit(requestId: $id) {{
    __typename
    ... on UsageRequest {{ {REQUEST_FIELDS} permitAvailableAt }}
    ... on RequestDenied {{ reasons {{ code message }} }}
    ... on NotFound {{ message }}
    ... on NotAllowed {{ message }}
  }}
}}
"""
AVAILABLE_AT = "query ($id: ID!) { usageRequest(id: $id) { permitAvailableAt permit { id } } }"
REVOCATIONS = '{ revocationList(deviceId: "ch-1") { sequence permitIds } }'


async def collect(gql: GraphQLClient, token: str, request_id: str) -> dict[str, Any]:
    body = await gql(COLLECT, {"id": request_id}, token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["collectPermit"]
    return result


async def test_a_slot_beyond_the_lead_is_approved_now_and_its_permit_collected_later(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    start = clock.now + timedelta(days=3)
    asked = await ask(gql, tokens["user"], start, 60)
    assert asked["status"] == "APPROVED"
    assert asked["decision"]["outcome"] == "APPROVED"
    assert asked["permit"] is None
    seen = (await gql(AVAILABLE_AT, {"id": asked["id"]}, tokens["user"]))["data"]["usageRequest"]
    assert seen["permitAvailableAt"] == iso(start - PERMIT_LEAD)

    early = await collect(gql, tokens["user"], asked["id"])
    assert early["__typename"] == "RequestDenied"
    assert [r["code"] for r in early["reasons"]] == ["permit_not_yet_available"]
    assert "24 h" in early["reasons"][0]["message"]

    clock.advance(timedelta(days=2, hours=1))  # the window now starts in 23 h
    stranger = await collect(gql, tokens["user2"], asked["id"])
    assert stranger["__typename"] == "NotAllowed"
    first = await collect(gql, tokens["user"], asked["id"])
    assert first["__typename"] == "UsageRequest"
    assert first["permit"]["notBefore"] == iso(start)
    assert first["permitAvailableAt"] is None
    again = await collect(gql, tokens["user"], asked["id"])
    assert again["permit"] == first["permit"]  # idempotent: the same permit every time


async def test_a_manager_approval_beyond_the_lead_issues_no_permit_yet(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    pending = await ask(gql, tokens["user"], clock.now + timedelta(days=2), 180)
    assert pending["status"] == "NEEDS_MANAGER"
    waiting = await collect(gql, tokens["user"], pending["id"])
    assert [r["code"] for r in waiting["reasons"]] == ["awaiting_manager"]

    body = await gql(APPROVE, {"id": pending["id"]}, tokens["manager"])
    approved = body["data"]["approveUsageRequest"]
    assert approved["status"] == "APPROVED"
    assert approved["decision"]["outcome"] == "APPROVED"
    assert approved["permit"] is None


async def test_cancelling_before_the_permit_exists_revokes_nothing_and_frees_the_slot(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    start = clock.now + timedelta(days=2)
    before = (await gql(REVOCATIONS, token=tokens["user"]))["data"]["revocationList"]
    asked = await ask(gql, tokens["user"], start, 30)
    cancelled = await gql(CANCEL, {"id": asked["id"]}, tokens["user"])
    assert cancelled["data"]["cancelUsageRequest"]["status"] == "CANCELLED"

    after = (await gql(REVOCATIONS, token=tokens["user"]))["data"]["revocationList"]
    assert after == before  # same sequence, no ids: nothing for any charger to learn
    assert (await ask(gql, tokens["user2"], start, 30))["status"] == "APPROVED"
    gone = await collect(gql, tokens["user"], asked["id"])
    assert [r["code"] for r in gone["reasons"]] == ["not_approved"]


async def test_the_sweep_issues_permits_that_entered_the_lead_and_subscribers_hear_it(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services
) -> None:
    soon = await ask(gql, tokens["user"], clock.now + timedelta(hours=30), 60)
    later = await ask(gql, tokens["user"], clock.now + timedelta(hours=31), 60)
    far = await ask(gql, tokens["user2"], clock.now + timedelta(days=5), 60)
    assert await issue_due_permits(services) == 0

    clock.advance(timedelta(hours=8))  # `soon` and `later` entered the lead, `far` did not
    async with services.bus.subscribe([f"request:{soon['id']}"]) as events:
        assert await issue_due_permits(services, limit=1) == 1  # a bounded batch, soonest first
        assert (await events.get()).request_id == soon["id"]
    assert await issue_due_permits(services, limit=1) == 1
    assert await issue_due_permits(services, limit=1) == 0

    for request, has_permit in ((soon, True), (later, True), (far, False)):
        body = await gql(GET_REQUEST, {"id": request["id"]}, tokens["manager"])
        assert (body["data"]["usageRequest"]["permit"] is not None) is has_permit
    collected = await collect(gql, tokens["user"], soon["id"])
    body = await gql(GET_REQUEST, {"id": soon["id"]}, tokens["user"])
    assert collected["permit"]["id"] == body["data"]["usageRequest"]["permit"]["id"]


REVOKE_REQUEST = """
mutation ($id: ID!) {
  revokeUsageRequest(id: $id, reason: "site works") {
    __typename ... on UsageRequest { status permit { id revoked } }
    ... on NotAllowed { message } ... on InvalidTransition { currentStatus }
  }
}
"""


async def test_a_manager_withdraws_an_approval_before_and_after_its_permit_exists(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    far = await ask(gql, tokens["user"], clock.now + timedelta(days=3), 60)
    near = await ask(gql, tokens["user"], clock.now + timedelta(hours=3), 60)
    before = (await gql(REVOCATIONS, token=tokens["user"]))["data"]["revocationList"]
    refused = await gql(REVOKE_REQUEST, {"id": far["id"]}, tokens["user"])
    assert refused["data"]["revokeUsageRequest"]["__typename"] == "NotAllowed"

    withdrawn = (await gql(REVOKE_REQUEST, {"id": far["id"]}, tokens["manager"]))["data"]
    assert withdrawn["revokeUsageRequest"] == {
        "__typename": "UsageRequest",
        "status": "REVOKED",
        "permit": None,
    }
    after = (await gql(REVOCATIONS, token=tokens["user"]))["data"]["revocationList"]
    assert after == before  # no permit, nothing to revoke; the slot is free again
    rebooked = await ask(gql, tokens["user2"], clock.now + timedelta(days=3), 60)
    assert rebooked["status"] == "APPROVED"

    revoked = (await gql(REVOKE_REQUEST, {"id": near["id"]}, tokens["manager"]))["data"]
    assert revoked["revokeUsageRequest"]["permit"]["revoked"] is True
    listed = (await gql(REVOCATIONS, token=tokens["user"]))["data"]["revocationList"]
    assert listed["permitIds"] == [near["permit"]["id"]]
    held = await ask(gql, tokens["user2"], clock.now + timedelta(hours=3), 60)
    assert [r["code"] for r in held["reasons"]] == ["slot_held_by_revoked_permit"]
