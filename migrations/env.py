"""Alembic environment: the URL comes from DATABASE_URL (or the caller's config)."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.settings import Settings
from app.store.database import create_sync_engine, is_sqlite
from app.store.tables import metadata

config = context.config
url = config.attributes.get("database_url") or Settings.from_env().database_url


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(run)
    await engine.dispose()


def run_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        run(given)
    elif is_sqlite(url) or not make_url(url).get_dialect().is_async:
        engine = create_sync_engine(url)
        with engine.connect() as connection:
            run(connection)
        engine.dispose()
    else:
        asyncio.run(run_async())


run_online()
