"""Shared fixtures: a real SQLite file migrated by alembic, the demo site, the ASGI app."""

import json
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cli import migrate
from app.main import create_app
from app.services.container import Services, build_services
from app.services.demo import seed_demo
from app.settings import Settings
from tests import postgres


class Clock:
    """A clock tests can move; starts at the real time so permits verify sensibly."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture(scope="session")
def postgres_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated PostgreSQL database that each test copies (CREATE DATABASE ... TEMPLATE)."""
    reason = postgres.unavailable()
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI starts PostgreSQL, yet: {reason}")  # never skip silently in CI
    if reason:
        pytest.skip(reason)
    name = postgres.create_database()
    migrate(Settings(tmp_path_factory.mktemp("pg"), postgres.url(name)))
    yield name
    postgres.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """A migrated database: an SQLite file, and the same tests again on PostgreSQL."""
    if request.param == "sqlite":
        settings = Settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'pp.db'}")
        migrate(settings)
        yield settings
        return
    name = postgres.create_database(template=request.getfixturevalue("postgres_template"))
    yield Settings(tmp_path, postgres.url(name))
    postgres.drop_database(name)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def services(settings: Settings, clock: Clock) -> AsyncIterator[Services]:
    built = build_services(settings)
    built.clock = clock
    yield built
    await built.db.dispose()


@pytest.fixture
def demo(services: Services, settings: Settings) -> dict[str, Any]:
    return seed_demo(services, settings.data_dir)


class GraphQLClient:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        response = await self.raw(query, variables, token)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        payload = {"query": query, "variables": variables or {}}
        return await self.client.post("/graphql", json=payload, headers=headers)


@pytest.fixture
async def gql(services: Services, demo: dict[str, Any]) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=create_app(services=services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield GraphQLClient(client)


@pytest.fixture
def tokens(demo: dict[str, Any]) -> dict[str, str]:
    return {key: demo[key]["token"] for key in ("manager", "user", "user2")}


def iso(moment: datetime) -> str:
    return moment.isoformat()


def dump(value: Any) -> str:
    return json.dumps(value, indent=2)
