"""The token endpoint and /graphql's access-token checks in the app itself, on SQLite and
PostgreSQL (authlib's synchronous grants reach each store through the event loop)."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.services import clients, user_admin
from app.services.container import Services
from app.services.rate_limits import RateLimiter, Rule, Rules

ME = "{ me { login role } }"


@pytest.fixture
async def http(services: Services, demo: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services=services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def machine(services: Services) -> tuple[str, str]:
    row, secret = await clients.create_client(
        services, "Fleet", "site-1", "requests:read requests:write", []
    )
    assert secret is not None
    return row.client_id, secret


async def token_for(http: httpx.AsyncClient, auth: tuple[str, str]) -> httpx.Response:
    return await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=auth)


async def me(http: httpx.AsyncClient, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return await http.post("/graphql", json={"query": ME}, headers=headers)


async def test_client_credentials_then_graphql(http: httpx.AsyncClient, services: Services) -> None:
    auth = await machine(services)
    answer = await token_for(http, auth)
    assert answer.status_code == 200, answer.text
    found = (await me(http, answer.json()["access_token"])).json()["data"]["me"]
    assert found == {"login": f"client:{auth[0]}", "role": "manager"}


async def test_a_disabled_service_account_is_refused_at_once(
    http: httpx.AsyncClient, services: Services
) -> None:
    auth = await machine(services)
    token = (await token_for(http, auth)).json()["access_token"]
    assert (await me(http, token)).status_code == 200
    await user_admin.disable_user(services, f"client:{auth[0]}")
    refused = await me(http, token)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_the_token_endpoint_is_rate_limited_per_client(
    http: httpx.AsyncClient, services: Services
) -> None:
    services.limits = RateLimiter(Rules(token_per_client=Rule(per_second=0.01, burst=2)))
    auth = await machine(services)
    wrong = (auth[0], "not-the-secret")
    # Naming a client without its secret spends nothing of its allowance.
    assert [(await token_for(http, wrong)).status_code for _ in range(3)] == [401] * 3
    assert [(await token_for(http, auth)).status_code for _ in range(2)] == [200, 200]
    limited = await token_for(http, auth)
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    other = await machine_named(services, "Billing")
    assert (await token_for(http, other)).status_code == 200  # another client goes on


async def machine_named(services: Services, name: str) -> tuple[str, str]:
    row, secret = await clients.create_client(services, name, "site-1", "requests:read", [])
    assert secret is not None
    return row.client_id, secret


async def test_a_bad_form_is_refused_before_authlib_sees_it(http: httpx.AsyncClient) -> None:
    as_json = await http.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    huge = await http.post("/oauth/token", data={"grant_type": "x" * 10_000})
    assert huge.status_code == 413
