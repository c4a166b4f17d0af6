"""Shared fixtures: a real SQLite file migrated by alembic, the demo site, the ASGI app."""

import json
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


class Clock:
    """A clock tests can move; starts at the real time so permits verify sensibly."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'pp.db'}")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(settings: Settings, clock: Clock) -> Iterator[Services]:
    migrate(settings)
    built = build_services(settings)
    built.clock = clock
    yield built
    built.db.engine.dispose()


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
