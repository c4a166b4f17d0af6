"""Over real HTTP, a mutation past its rate limit is a 429 with Retry-After in whole
seconds, and the GraphQL error says the same; queries go on meanwhile."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.http.live import ServerProcess, free_port, prepare

# A tenth of the defaults: per principal 1/s with a burst of 5, login 1/min burst 2.
FACTOR = "0.1"
LANGUAGE = 'mutation { setMyLanguage(language: "en") { __typename } }'
LOGIN = "mutation ($l: String!, $p: String!) { login(login: $l, password: $p) { __typename } }"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Any]]:
    data_dir: Path = tmp_path_factory.mktemp("rate-limits")
    summary = prepare(data_dir)
    process = ServerProcess(
        data_dir, free_port(), data_dir / "server.log", serve_args=("--rate-limit-factor", FACTOR)
    )
    process.start()
    try:
        yield process, summary
    finally:
        process.stop()


def refusal(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    seconds = response.headers["Retry-After"]
    assert seconds.isdigit() and int(seconds) >= 1, seconds
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] == int(seconds)
    return int(seconds)


async def test_a_flood_of_mutations_gets_429_with_retry_after(
    server: tuple[ServerProcess, Any],
) -> None:
    process, summary = server
    headers = {"Authorization": f"Bearer {summary['user']['token']}"}
    async with httpx.AsyncClient(base_url=process.url(""), timeout=10) as client:
        statuses = []
        for _ in range(8):
            answer = await client.post("/graphql", json={"query": LANGUAGE}, headers=headers)
            statuses.append(answer.status_code)
        assert statuses[:5] == [200] * 5, statuses  # the burst
        assert refusal(answer) == 1
        # A client asking for graphql-response+json gets the 429 too, not a 400.
        strict = {**headers, "Accept": "application/graphql-response+json"}
        answer = await client.post("/graphql", json={"query": LANGUAGE}, headers=strict)
        assert refusal(answer) == 1
        # Queries are not charged.
        me = await client.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
        assert me.status_code == 200 and me.json()["data"]["me"]["id"]


async def test_logins_from_one_address_get_429_with_retry_after(
    server: tuple[ServerProcess, Any],
) -> None:
    process, summary = server
    account = {"l": summary["user2"]["login"], "p": summary["user2"]["password"]}
    async with httpx.AsyncClient(base_url=process.url(""), timeout=10) as client:
        for _ in range(2):
            answer = await client.post("/graphql", json={"query": LOGIN, "variables": account})
            assert answer.json()["data"]["login"]["__typename"] == "Session"
        answer = await client.post("/graphql", json={"query": LOGIN, "variables": account})
        assert 50 <= refusal(answer) <= 60  # one login a minute
