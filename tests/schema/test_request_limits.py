"""Asks the rules cannot grant come back as typed denials, never as server errors."""

from datetime import timedelta

import pytest

from tests.conftest import Clock, GraphQLClient
from tests.schema.queries import REQUEST_USAGE


async def denial(gql: GraphQLClient, token: str, start: str, minutes: int) -> list[str]:
    body = await gql(REQUEST_USAGE, {"device": "ch-1", "start": start, "minutes": minutes}, token)
    assert "errors" not in body, body
    answer = body["data"]["requestUsage"]
    assert answer["__typename"] == "RequestDenied", answer
    assert all(r["message"] for r in answer["reasons"])
    return [r["code"] for r in answer["reasons"]]


@pytest.mark.parametrize(
    "start", ["9999-12-31T23:30:00Z", "9999-12-31T23:30:00-14:00", "0001-01-01T00:00:00+14:00"]
)
async def test_a_start_off_the_calendar_is_a_typed_denial(
    gql: GraphQLClient, tokens: dict[str, str], start: str
) -> None:
    assert await denial(gql, tokens["user"], start, 60) == ["start_out_of_range"]


async def test_a_one_minute_slot_inside_the_start_grace_gets_no_spent_permit(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    start = (clock.now - timedelta(minutes=4)).isoformat()
    assert "duration_too_short" in await denial(gql, tokens["user"], start, 1)
    assert await denial(gql, tokens["user"], start, 15) == ["too_little_time_left"]
