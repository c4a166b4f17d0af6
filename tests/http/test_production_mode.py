"""One setting, POWERPERMIT_ENV=production, turns introspection and GraphiQL off; in
development both are on. Both modes in one process never share a cached verdict."""

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.services.container import Services
from app.settings import Settings
from tests.http.live import ServerProcess, free_port, prepare, server_env

SCHEMA = "{ __schema { queryType { name } } }"
TYPE = '{ __type(name: "Query") { fields { name } } }'
HIDDEN = "query { me { id } ... on Query { __schema { types { name } } } }"
HTML = {"Accept": "text/html"}


@pytest.fixture
async def apps(
    services: Services, settings: Settings, demo: dict[str, Any]
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """A development and a production app on the same services, in this one process."""
    modes = {"development": settings, "production": dataclasses.replace(settings, production=True)}
    clients = {}
    for mode, mode_settings in modes.items():
        transport = httpx.ASGITransport(app=create_app(mode_settings, services))
        clients[mode] = httpx.AsyncClient(transport=transport, base_url="http://test")
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()


async def post(client: httpx.AsyncClient, query: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": query}, headers=headers)
    return response.json()


def refused_introspection(body: Any) -> None:
    assert body.get("data") is None, body
    codes = {error["extensions"]["code"] for error in body["errors"]}
    assert codes == {"INTROSPECTION_DISABLED"}, body
    assert "turned off" in body["errors"][0]["message"]


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)  # the mode is the point
async def test_introspection_and_graphiql_follow_the_one_setting(
    apps: dict[str, httpx.AsyncClient], demo: dict[str, Any]
) -> None:
    development, production = apps["development"], apps["production"]
    token = demo["user"]["token"]
    # The same texts in both modes, back and forth: each app gets its own verdict.
    for _ in range(2):
        for query in (SCHEMA, TYPE):
            body = await post(development, query)
            assert "errors" not in body and body["data"], body
            refused_introspection(await post(production, query))
        refused_introspection(await post(production, HIDDEN, token))
        assert "errors" not in await post(development, HIDDEN, token)

    # What clients need still works in production: __typename, queries, mutations.
    assert (await post(production, "{ __typename }"))["data"] == {"__typename": "Query"}
    me = await post(production, "{ me { id login } }", token)
    assert me["data"]["me"]["login"] == demo["user"]["login"]

    page = await development.get("/graphql", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    page = await production.get("/graphql", headers=HTML)
    assert page.status_code == 404
    assert "graphiql" not in page.text.lower()


async def test_a_production_server_started_with_the_environment_variable(tmp_path: Path) -> None:
    prepare(tmp_path)
    env = {**server_env(tmp_path), "POWERPERMIT_ENV": "production"}
    server = ServerProcess(tmp_path, free_port(), tmp_path / "server.log", env=env)
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url(""), timeout=10) as client:
            refused_introspection((await client.post("/graphql", json={"query": SCHEMA})).json())
            assert (await client.get("/graphql", headers=HTML)).status_code == 404
            typename = await client.post("/graphql", json={"query": "{ __typename }"})
            assert typename.json() == {"data": {"__typename": "Query"}}
    finally:
        server.stop()
