"""One place that owns connections: every transaction is a plain function of a Connection.

A use case runs as one synchronous function inside one transaction, so the event loop
pays one hop per transaction, not one per statement. On SQLite every write goes through
a single writer thread (one writer is what SQLite supports; see DESIGN.md); reads use a
small pool. On PostgreSQL the same function runs through the async engine's `run_sync`.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

T = TypeVar("T")
BEGIN_OPTION = "powerpermit_sqlite_begin"
Work = Callable[[Connection], T]


def sync_url(url: str | URL) -> URL:
    """SQLite through the stdlib driver: the SQLite path runs its own threads (see above)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_sync_engine(url: str | URL) -> Engine:
    url = sync_url(url)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=4
    )
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(connection: Connection) -> None:
    """Emit BEGIN ourselves: pysqlite would only begin at the first write, leaving the rule
    checks that precede it outside the transaction. Writers take the lock up front."""
    connection.exec_driver_sql(connection.get_execution_options().get(BEGIN_OPTION, "BEGIN"))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # autocommit at the driver; _sqlite_begin rules
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """Runs transactions; `write` for anything that changes state, `read` for the rest."""

    def __init__(self, url: str | URL) -> None:
        self.url = make_url(url)
        self._sqlite = is_sqlite(self.url)
        self._engine: Engine | None = None
        self._async_engine: AsyncEngine | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        if self._sqlite:
            self._engine = create_sync_engine(self.url)
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="db-writer")
            self._readers = ThreadPoolExecutor(3, thread_name_prefix="db-reader")
        else:
            self._async_engine = create_async_engine(self.url, pool_size=10, max_overflow=10)

    @property
    def engine(self) -> Engine:
        """A synchronous engine for tools and tests (statement counting, seeding)."""
        if self._engine is not None:
            return self._engine
        assert self._async_engine is not None
        return self._async_engine.sync_engine

    async def write(self, work: Work[T]) -> T:
        return await self._run(work, self._writer, "BEGIN IMMEDIATE")

    async def read(self, work: Work[T]) -> T:
        return await self._run(work, self._readers, "BEGIN")

    def run_sync(self, work: Work[T]) -> T:
        """Run a transaction from synchronous code (CLI commands, fixtures), never in a loop."""
        if self._engine is not None:
            with self._engine.connect() as connection:
                connection.execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"})
                with connection.begin():
                    return work(connection)

        async def once() -> T:
            # A pool of its own: pooled asyncpg connections belong to the loop that made them.
            engine = create_async_engine(self.url, poolclass=NullPool)
            try:
                async with engine.begin() as connection:
                    return await connection.run_sync(work)
            finally:
                await engine.dispose()

        return asyncio.run(once())

    async def _run(self, work: Work[T], executor: ThreadPoolExecutor | None, begin: str) -> T:
        if self._async_engine is not None:
            async with self._async_engine.begin() as connection:
                return await connection.run_sync(work)
        assert self._engine is not None
        engine = self._engine

        def transaction() -> T:
            with engine.connect() as connection:
                connection.execution_options(**{BEGIN_OPTION: begin})
                with connection.begin():
                    return work(connection)

        return await asyncio.get_running_loop().run_in_executor(executor, transaction)

    async def dispose(self) -> None:
        if self._async_engine is not None:
            await self._async_engine.dispose()
        if self._engine is not None:
            self._engine.dispose()
        for pool in (self._writer, self._readers):
            if pool is not None:
                pool.shutdown(wait=False)
