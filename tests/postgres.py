"""Throwaway PostgreSQL databases for tests, on the server at POWERPERMIT_TEST_POSTGRES."""

import asyncio
import os
import uuid

import asyncpg

SERVER = os.environ.get("POWERPERMIT_TEST_POSTGRES", "postgres@127.0.0.1:5432")


def url(database: str) -> str:
    return f"postgresql+asyncpg://{SERVER}/{database}"


def _admin(sql: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(f"postgresql://{SERVER}/postgres", timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


def unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        _admin("SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError) as err:
        return (
            f"PostgreSQL is not reachable at {SERVER} ({err}); start it, e.g. "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    return None


def create_database(template: str | None = None) -> str:
    name = f"pp_test_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


def drop_database(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
