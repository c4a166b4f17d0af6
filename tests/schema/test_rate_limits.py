"""Mutations past a rate limit are refused with RATE_LIMITED and when to come back, and
change nothing; one principal's flood leaves others alone, one address's does not."""

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.services.container import Services
from app.services.rate_limits import RateLimiter, Rule, Rules
from tests.conftest import Clock, GraphQLClient
from tests.schema.queries import REQUEST_USAGE

# Roomy everywhere but where a test looks; the limiter's clock is moved, never slept on.
ROOMY = Rule(per_second=1000, burst=1000)
LOGIN = "mutation ($l: String!, $p: String!) { login(login: $l, password: $p) { __typename } }"
ASKED = "{ usageRequests(first: 50) { edges { node { id } } } }"


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def seconds() -> Seconds:
    return Seconds()


def limit(services: Services, seconds: Seconds, **rules: Rule) -> None:
    roomy = {name: ROOMY for name in Rules.__dataclass_fields__}
    services.limits = RateLimiter(Rules(**{**roomy, **rules}), clock=seconds)


@pytest.fixture
async def from_elsewhere(services: Services, demo: dict[str, Any]) -> AsyncIterator[GraphQLClient]:
    """The same app reached from another address than `gql`'s (127.0.0.1)."""
    transport = httpx.ASGITransport(app=create_app(services=services), client=("10.0.0.9", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield GraphQLClient(client)


async def ask(gql: GraphQLClient, token: str, clock: Clock, hour: int) -> httpx.Response:
    start = (clock.now + timedelta(days=2)).replace(hour=hour, minute=0, second=0)
    variables = {"device": "ch-1", "start": start.isoformat(), "minutes": 30}
    return await gql.raw(REQUEST_USAGE, variables, token)


def refused(response: httpx.Response) -> int:
    """The seconds a refusal says to wait; fails unless it is a RATE_LIMITED answer."""
    assert response.status_code == 429, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED", error
    retry_after = error["extensions"]["retryAfter"]
    assert response.headers["Retry-After"] == str(retry_after)
    return int(retry_after)


def served(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


async def asked_ids(gql: GraphQLClient, token: str) -> set[str]:
    body = await gql(ASKED, token=token)
    return {edge["node"]["id"] for edge in body["data"]["usageRequests"]["edges"]}


async def test_a_burst_over_the_limit_waits_as_told_and_changes_nothing(
    gql: GraphQLClient,
    services: Services,
    tokens: dict[str, str],
    clock: Clock,
    seconds: Seconds,
) -> None:
    limit(services, seconds, mutations_per_principal=Rule(per_second=0.5, burst=2))
    for hour in (8, 9):
        served(await ask(gql, tokens["user"], clock, hour))
    before = await asked_ids(gql, tokens["user"])

    wait = refused(await ask(gql, tokens["user"], clock, 11))
    assert wait == 2  # one token at 0.5/s
    assert await asked_ids(gql, tokens["user"]) == before  # the refused ask was not made

    seconds.now += wait - 0.5
    refused(await ask(gql, tokens["user"], clock, 11))  # still too early
    seconds.now += 0.5
    asked = served(await ask(gql, tokens["user"], clock, 11))["data"]["requestUsage"]
    assert asked["id"] not in before
    assert await asked_ids(gql, tokens["user"]) == before | {asked["id"]}


async def test_one_principals_flood_does_not_limit_another(
    gql: GraphQLClient,
    services: Services,
    tokens: dict[str, str],
    clock: Clock,
    seconds: Seconds,
) -> None:
    limit(services, seconds, mutations_per_principal=Rule(per_second=1, burst=2))
    served(await ask(gql, tokens["user"], clock, 8))
    served(await ask(gql, tokens["user"], clock, 9))
    for _ in range(5):
        refused(await ask(gql, tokens["user"], clock, 10))
    served(await ask(gql, tokens["user2"], clock, 12))
    served(await ask(gql, tokens["user2"], clock, 13))


async def test_the_address_limit_catches_many_principals_from_one_address(
    gql: GraphQLClient,
    from_elsewhere: GraphQLClient,
    services: Services,
    tokens: dict[str, str],
    clock: Clock,
    seconds: Seconds,
) -> None:
    limit(services, seconds, mutations_per_address=Rule(per_second=1, burst=2))
    served(await ask(gql, tokens["user"], clock, 8))
    served(await ask(gql, tokens["user2"], clock, 9))
    assert refused(await ask(gql, tokens["manager"], clock, 10)) == 1
    # The same principals from another address are served.
    served(await ask(from_elsewhere, tokens["manager"], clock, 10))


async def test_login_is_limited_per_address_whatever_login_it_tries(
    gql: GraphQLClient,
    from_elsewhere: GraphQLClient,
    services: Services,
    demo: dict[str, Any],
    seconds: Seconds,
) -> None:
    limit(services, seconds, login_per_address=Rule(per_second=10 / 60, burst=2))
    for login in ("nobody", "somebody"):
        served(await gql.raw(LOGIN, {"l": login, "p": "guess"}))
    right = {"l": demo["user"]["login"], "p": demo["user"]["password"]}
    assert refused(await gql.raw(LOGIN, right)) == 6  # even the right password waits
    # Other mutations from that address, and logins from another, go on.
    served(
        await gql.raw(
            'mutation { setMyLanguage(language: "en") { __typename } }', token=demo["user"]["token"]
        )
    )
    body = served(await from_elsewhere.raw(LOGIN, right))
    assert body["data"]["login"]["__typename"] == "Session"
    seconds.now += 6
    assert served(await gql.raw(LOGIN, right))["data"]["login"]["__typename"] == "Session"


async def test_queries_are_not_charged(
    gql: GraphQLClient, services: Services, tokens: dict[str, str], seconds: Seconds
) -> None:
    limit(services, seconds, mutations_per_principal=Rule(per_second=1, burst=1))
    for _ in range(5):
        await gql(ASKED, token=tokens["user"])
    served(
        await gql.raw(
            'mutation { setMyLanguage(language: "ja") { __typename } }', token=tokens["user"]
        )
    )
