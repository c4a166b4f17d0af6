"""/readyz tells a load balancer whether this process may take traffic; /healthz only
that it is alive. Real stores: a migrated SQLite file (and PostgreSQL), one left a
migration behind, and a PostgreSQL address where nothing listens."""

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory

from app.cli import alembic_config
from app.main import create_app
from app.services.container import Services, build_services
from app.settings import Settings
from tests.http.live import free_port


async def probe(services: Services, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(services=services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_ready_when_the_store_is_migrated_and_the_key_loaded(services: Services) -> None:
    async with services.running():  # the app's lifespan: the bus starts listening
        response = await probe(services, "/readyz")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "ready"
    assert body["failed"] == []
    assert body["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "signing_key": "ok",
        "event_listener": "ok",
    }


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
async def test_not_ready_until_the_event_listener_is_connected(services: Services) -> None:
    """Several processes on PostgreSQL: a process that does not hear NOTIFY yet would miss
    the others' decisions, so it takes no traffic until its listener is connected."""
    response = await probe(services, "/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["event_listener"]
    async with services.running():
        assert (await probe(services, "/readyz")).status_code == 200
    # Stopped (a process shutting down): out of the pool again.
    assert (await probe(services, "/readyz")).json()["failed"] == ["event_listener"]


@pytest.fixture
async def behind(tmp_path: Path) -> AsyncIterator[Services]:
    """An SQLite store one migration short of the code's head."""
    settings = Settings(tmp_path, f"sqlite:///{tmp_path / 'pp.db'}")
    config = alembic_config(settings.database_url)
    head = ScriptDirectory.from_config(config).get_revision("head")
    assert head is not None and isinstance(head.down_revision, str)
    command.upgrade(config, head.down_revision)
    services = build_services(settings)
    yield services
    await services.db.dispose()


async def test_not_ready_while_a_migration_is_behind(behind: Services) -> None:
    response = await probe(behind, "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["migrations"]
    assert "powerpermit migrate" in body["checks"]["migrations"]
    assert body["checks"]["database"] == "ok"
    # Alive all the same: a restart would not help, a migration will.
    assert (await probe(behind, "/healthz")).status_code == 200


async def test_ready_again_once_migrated(behind: Services, tmp_path: Path) -> None:
    command.upgrade(alembic_config(str(behind.db.url)), "head")
    assert (await probe(behind, "/readyz")).status_code == 200


async def test_a_store_migrated_by_newer_code_stays_ready(tmp_path: Path) -> None:
    """A rolling upgrade runs `powerpermit migrate` with the new release, then replaces the
    old processes: they keep serving meanwhile instead of all leaving the pool at once."""
    settings = Settings(tmp_path, f"sqlite:///{tmp_path / 'pp.db'}")
    command.upgrade(alembic_config(settings.database_url), "head")
    with sqlite3.connect(tmp_path / "pp.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_next_release'")
    services = build_services(settings)
    try:
        response = await probe(services, "/readyz")
    finally:
        await services.db.dispose()
    assert response.status_code == 200, response.text


async def test_not_ready_when_the_database_is_unreachable(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: connections are refused at once
    url = f"postgresql+asyncpg://powerpermit:s3cret-pw@127.0.0.1:{port}/powerpermit"
    services = build_services(Settings(tmp_path, url))
    try:
        response = await probe(services, "/readyz")
    finally:
        await services.db.dispose()
    assert response.status_code == 503
    body = response.json()
    assert {"database", "migrations"} <= set(body["failed"])  # (and its bus: not started)
    assert body["checks"]["database"] == "unreachable"
    # The probe's answer names no address, user or password.
    for secret in (str(port), "s3cret-pw", "powerpermit:", "127.0.0.1"):
        assert secret not in response.text
    assert body["checks"]["signing_key"] == "ok"


async def test_a_fresh_data_dir_is_not_ready_until_migrated(tmp_path: Path) -> None:
    services = build_services(Settings(tmp_path, f"sqlite:///{tmp_path / 'new.db'}"))
    try:
        response = await probe(services, "/readyz")
    finally:
        await services.db.dispose()
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "not migrated: run `powerpermit migrate`"
