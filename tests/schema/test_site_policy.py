from datetime import timedelta
from typing import Any

from tests.conftest import Clock, GraphQLClient

UPDATE = """
mutation ($input: SitePolicyInput!) {
  updateSitePolicy(input: $input) {
    __typename
    ... on SitePolicy { siteId timezone opensAt closesAt maxDurationMinutes autoApproveMinutes
                        bookingHorizonDays maxOpenRequests }
    ... on PolicyRefused { reasons { code message } }
    ... on NotFound { message }
    ... on InvalidInput { message }
  }
}
"""
ASK = """
mutation ($device: ID!, $at: DateTime!, $minutes: Int!) {
  requestUsage(input: {deviceId: $device, startsAt: $at, durationMinutes: $minutes}) {
    __typename
    ... on RequestDenied { reasons { code } }
  }
}
"""


def policy(**changes: Any) -> dict[str, Any]:
    return {
        "siteId": "site-1",
        "opensAt": "06:00",
        "closesAt": "22:00",
        "maxDurationMinutes": 120,
        "autoApproveMinutes": 60,
        "bookingHorizonDays": 7,
        "maxOpenRequests": 2,
        **changes,
    }


async def test_a_manager_sets_the_policy_and_the_next_request_is_judged_by_it(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    answer = await gql(UPDATE, {"input": policy()}, tokens["manager"])
    assert answer["data"]["updateSitePolicy"] == {
        "__typename": "SitePolicy",
        "siteId": "site-1",
        "timezone": "Europe/Berlin",
        "opensAt": "06:00",
        "closesAt": "22:00",
        "maxDurationMinutes": 120,
        "autoApproveMinutes": 60,
        "bookingHorizonDays": 7,
        "maxOpenRequests": 2,
    }
    far = (clock.now + timedelta(days=10)).isoformat()
    asked = await gql(ASK, {"device": "ch-1", "at": far, "minutes": 180}, tokens["user"])
    codes = {r["code"] for r in asked["data"]["requestUsage"]["reasons"]}
    assert {"duration_too_long", "beyond_horizon"} <= codes


async def test_a_policy_out_of_bounds_is_refused_with_reason_codes(
    gql: GraphQLClient, tokens: dict[str, str]
) -> None:
    bad = policy(closesAt=None, autoApproveMinutes=600, maxOpenRequests=0)
    answer = (await gql(UPDATE, {"input": bad}, tokens["manager"]))["data"]["updateSitePolicy"]
    assert answer["__typename"] == "PolicyRefused"
    assert {r["code"] for r in answer["reasons"]} == {
        "opening_hours_incomplete",
        "auto_approve_out_of_range",
        "open_requests_out_of_range",
    }
    not_a_time = policy(opensAt="6 am")
    answer = (await gql(UPDATE, {"input": not_a_time}, tokens["manager"]))["data"]
    assert answer["updateSitePolicy"]["reasons"][0]["code"] == "opening_hours_invalid"
    huge = policy(bookingHorizonDays=10**9)
    answer = (await gql(UPDATE, {"input": huge}, tokens["manager"]))["data"]
    assert answer["updateSitePolicy"]["__typename"] == "InvalidInput"


async def test_only_a_manager_of_the_site_changes_its_policy(
    gql: GraphQLClient, tokens: dict[str, str]
) -> None:
    answer = await gql(UPDATE, {"input": policy()}, tokens["user"])
    assert answer["data"]["updateSitePolicy"]["__typename"] == "NotFound"
    answer = await gql(UPDATE, {"input": policy(siteId="nowhere")}, tokens["manager"])
    assert answer["data"]["updateSitePolicy"]["__typename"] == "NotFound"
