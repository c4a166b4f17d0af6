"""The `login` mutation backs off failed sign-ins: a refused attempt is a TooManyAttempts
result with the HTTP Retry-After header, and nothing in the answer tells a login that exists
from one that does not. Each client comes from its own address (ASGI's client)."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.services.container import Services
from tests.conftest import Clock, GraphQLClient

LOGIN = """
mutation ($login: String!, $password: String!) {
  login(login: $login, password: $password) {
    __typename
    ... on Session { token }
    ... on LoginFailed { message }
    ... on TooManyAttempts { message retryAfterSeconds }
  }
}
"""
Connect = Callable[[str], AbstractAsyncContextManager[GraphQLClient]]


@pytest.fixture
def from_address(services: Services, demo: dict[str, Any]) -> Connect:
    @asynccontextmanager
    async def connect(address: str) -> AsyncIterator[GraphQLClient]:
        transport = httpx.ASGITransport(app=create_app(services=services), client=(address, 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield GraphQLClient(client)

    return connect


async def attempt(gql: GraphQLClient, login: str, password: str) -> tuple[bytes, str | None]:
    response = await gql.raw(LOGIN, {"login": login, "password": password})
    assert response.status_code == 200, response.text
    return response.content, response.headers.get("retry-after")


def typename(answer: tuple[bytes, str | None]) -> str:
    return answer[0].decode().split('"__typename":"')[1].split('"')[0]


async def test_a_known_and_an_unknown_login_get_byte_identical_answers_at_every_stage(
    from_address: Connect, clock: Clock, demo: dict[str, Any]
) -> None:
    known = demo["user"]["login"]
    async with from_address("10.0.0.1") as first, from_address("10.0.0.2") as second:
        for step in range(9):
            answer = await attempt(first, known, "not it")
            assert answer == await attempt(second, "nobody-at-all", "not it"), step
            if step == 5:  # the sixth attempt, right after five failures
                assert typename(answer) == "TooManyAttempts"
                assert answer[1] == "1"
                assert b'"retryAfterSeconds":1' in answer[0]
            if step % 3 == 2:
                clock.advance(timedelta(seconds=2))
        assert typename(answer) == "TooManyAttempts" and answer[1] == "2"


async def test_the_right_password_waits_out_the_back_off_too(
    from_address: Connect, clock: Clock, demo: dict[str, Any]
) -> None:
    account = demo["user"]
    async with from_address("10.0.0.1") as gql:
        for _ in range(5):
            assert typename(await attempt(gql, account["login"], "not it")) == "LoginFailed"
        refused = await attempt(gql, account["login"], account["password"])
        assert typename(refused) == "TooManyAttempts" and refused[1] == "1"
        clock.advance(timedelta(seconds=1))
        assert typename(await attempt(gql, account["login"], account["password"])) == "Session"


async def test_one_address_spraying_logins_is_held_back_and_another_is_not(
    from_address: Connect, demo: dict[str, Any]
) -> None:
    account = demo["user"]
    async with from_address("10.6.6.6") as sprayer, from_address("10.7.7.7") as other:
        for n in range(5):
            assert typename(await attempt(sprayer, f"guess-{n}", "guess")) == "LoginFailed"
        refused = await attempt(sprayer, account["login"], account["password"])
        assert typename(refused) == "TooManyAttempts"
        assert typename(await attempt(other, account["login"], account["password"])) == "Session"
        assert typename(await attempt(other, "guess-0", "guess")) == "LoginFailed"
