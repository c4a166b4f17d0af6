"""Password checks: off the event loop, outside any transaction, one at a time, the same
for unknown logins as for known ones, and one password per request."""

import asyncio
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from app.services import accounts
from app.services.container import Services
from app.services.login_guard import POLICY
from app.store import tables as t
from tests.conftest import GraphQLClient

LOGIN = """
mutation ($login: String!, $password: String!) {
  login(login: $login, password: $password) { __typename ... on Session { token } }
}
"""


class Checks:
    """Every argon2 verification: its thread, the connections open, how many at once."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.threads: list[str] = []
        self.open_connections: list[int] = []
        self.running = self.most_at_once = 0
        self.lock = threading.Lock()


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch, services: Services) -> Checks:
    seen = Checks(services)
    verify = PasswordHasher.verify

    def counting(self: PasswordHasher, password_hash: Any, password: Any) -> bool:
        with seen.lock:
            seen.running += 1
            seen.most_at_once = max(seen.most_at_once, seen.running)
            seen.threads.append(threading.current_thread().name)
            seen.open_connections.append(services.db.engine.pool.checkedout())
        try:
            return verify(self, password_hash, password)
        finally:
            with seen.lock:
                seen.running -= 1

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return seen


async def token_count(services: Services) -> int:
    count = sa.select(sa.func.count()).select_from(t.api_tokens)
    return int(await services.db.read(lambda conn: conn.execute(count).scalar_one()))


async def test_unknown_and_known_logins_both_check_a_hash_off_the_loop_outside_transactions(
    gql: GraphQLClient, demo: dict[str, Any], checks: Checks
) -> None:
    account = demo["user"]
    attempts = [
        (account["login"], account["password"], "Session"),
        (account["login"], "not it", "LoginFailed"),
        ("nobody", account["password"], "LoginFailed"),
    ]
    for login, password, expected in attempts:
        body = await gql(LOGIN, {"login": login, "password": password})
        assert body["data"]["login"]["__typename"] == expected, body

    assert len(checks.threads) == len(attempts)  # the unknown login was checked too
    assert threading.main_thread().name not in checks.threads
    assert checks.open_connections == [0] * len(attempts)  # no transaction held meanwhile


async def test_password_checks_run_one_at_a_time(
    gql: GraphQLClient, demo: dict[str, Any], checks: Checks
) -> None:
    account = demo["user"]
    free = POLICY.free_failures  # any more at once are backed off (test_login_backoff.py)
    guesses = [{"login": account["login"], "password": f"guess {n}"} for n in range(free)]
    for body in await asyncio.gather(*(gql(LOGIN, guess) for guess in guesses)):
        assert body["data"]["login"]["__typename"] == "LoginFailed"
    assert len(checks.threads) == free
    assert checks.most_at_once == accounts.PASSWORD_CHECKS_AT_ONCE == 1


def aliased(guesses: int) -> str:
    fields = (
        f"g{n}: login(login: $login, password: $password) {{ __typename }}" for n in range(guesses)
    )
    return f"mutation ($login: String!, $password: String!) {{ {' '.join(fields)} }}"


THROUGH_FRAGMENTS = """
mutation ($login: String!, $password: String!) {
  ...Guess
  ... on Mutation { login(login: $login, password: $password) { __typename } }
}
fragment Guess on Mutation { login(login: $login, password: $password) { __typename } }
"""


REFUSED = {
    "two_aliases": (aliased(2), "TOO_MANY_LOGINS"),
    "fragments": (THROUGH_FRAGMENTS, "TOO_MANY_LOGINS"),
    "fifty_aliases": (aliased(50), "TOO_MANY_ALIASES"),  # refused before it is even validated
}


@pytest.mark.parametrize("name", sorted(REFUSED))
async def test_one_request_tries_at_most_one_password(
    gql: GraphQLClient, demo: dict[str, Any], services: Services, checks: Checks, name: str
) -> None:
    query, code = REFUSED[name]
    account = demo["user"]
    before = await token_count(services)
    body = await gql(query, {"login": account["login"], "password": account["password"]})
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    assert checks.threads == []  # not one password was tried
    assert await token_count(services) == before  # and no token handed out
