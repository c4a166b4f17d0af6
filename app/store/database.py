"""One place that owns connections: every transaction is a plain function of a Connection.

A use case runs as one synchronous function inside one transaction. On SQLite that
function runs right on the event loop: a transaction here takes well under a millisecond,
and handing it to a thread cost more than the work itself. A writer thread competing for
the GIL with a busy event loop made each transaction ~3x slower under load (measured with
bench/request_usage.py). Writes go through one group-commit writer (group_commit.py),
which makes the process SQLite's one writer (DESIGN.md) and moves only the commit's fsync
off the loop. On PostgreSQL the same function runs through the async engine's `run_sync`,
and the loop stays free while the server works.
"""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app.store.group_commit import GroupCommit

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
        ensure_private(Path(url.database))
    engine = sa.create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 5}, pool_size=2
    )
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


class DatabaseFileError(Exception):
    """The SQLite file is open to other users: refused with the fix to apply."""


def ensure_private(path: Path) -> None:
    """Create the database file mode 0600 before SQLite does (it would use 0644), or check an
    existing one is still private: it holds every account's password hash and token hash.
    SQLite gives its -wal and -shm files the database file's mode; left over from a run
    before a chmod, they are checked too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return  # an empty file is an empty database
    except FileExistsError:
        pass  # made earlier, or by a process starting at the same time: check it below
    sidecars = (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
    exposed = " ".join(str(file) for file in (path, *sidecars) if _open_to_others(file))
    if exposed:
        raise DatabaseFileError(
            f"{exposed}: open to other users, while the database must be mode 0600. "
            f"Run `chmod 600 {exposed}`."
        )


def _open_to_others(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & 0o077)
    except FileNotFoundError:
        return False


def _sqlite_begin(connection: Connection) -> None:
    """Emit BEGIN ourselves: pysqlite would only begin at the first write, leaving the rule
    checks that precede it outside the transaction. Writers take the lock up front."""
    connection.exec_driver_sql(connection.get_execution_options().get(BEGIN_OPTION, "BEGIN"))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # autocommit at the driver; _sqlite_begin rules
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit survives power loss. An approval the phone already holds must not
    # vanish from the store, or its slot could be handed out twice (~0.25 ms per commit).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")  # only other processes (CLI tools) contend
    cursor.close()


class Database:
    """Runs transactions; `write` for anything that changes state, `read` for the rest."""

    def __init__(self, url: str | URL) -> None:
        self.url = make_url(url)
        self._sqlite = is_sqlite(self.url)
        self._engine: Engine | None = None
        self._async_engine: AsyncEngine | None = None
        self._group_commit: GroupCommit | None = None
        if self._sqlite:
            self._engine = create_sync_engine(self.url)
            self._group_commit = GroupCommit(self._engine, BEGIN_OPTION)
        else:
            self._async_engine = create_async_engine(self.url, pool_size=10, max_overflow=10)

    @property
    def works_on_loop(self) -> bool:
        """Whether a transaction's statements run on the event loop (SQLite, see above):
        there, how long one takes is how long every request waits."""
        return self._sqlite

    @property
    def engine(self) -> Engine:
        """A synchronous engine for tools and tests (statement counting, seeding)."""
        if self._engine is not None:
            return self._engine
        assert self._async_engine is not None
        return self._async_engine.sync_engine

    async def write(self, work: Work[T]) -> T:
        if self._group_commit is not None:
            return await self._group_commit.write(work)
        return await self._run(work, "BEGIN IMMEDIATE")

    async def read(self, work: Work[T]) -> T:
        return await self._run(work, "BEGIN")

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

    async def _run(self, work: Work[T], begin: str) -> T:
        if self._async_engine is not None:
            async with self._async_engine.begin() as connection:
                return await connection.run_sync(work)
        assert self._engine is not None
        with self._engine.connect() as connection:
            connection.execution_options(**{BEGIN_OPTION: begin})
            with connection.begin():
                return work(connection)

    @contextlib.asynccontextmanager
    async def exclusive(self, key: int) -> AsyncIterator[bool]:
        """Whether this process may run the one job `key` names now, across every process
        on the database: a PostgreSQL session advisory lock, held on a connection of its
        own until the block ends (or the process dies, which closes it). SQLite has one
        process by design (DESIGN.md), so there the answer is always yes."""
        if self._async_engine is None:
            yield True
            return
        async with self._async_engine.connect() as connection:
            lock = sa.text("SELECT pg_try_advisory_lock(:key)")
            held = bool((await connection.execute(lock, {"key": key})).scalar())
            await connection.commit()  # the lock outlives the transaction; no idle one stays
            try:
                yield held
            finally:
                if held:
                    await connection.execute(
                        sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key}
                    )
                    await connection.commit()

    async def dispose(self) -> None:
        if self._group_commit is not None:
            await self._group_commit.drained()
        if self._async_engine is not None:
            await self._async_engine.dispose()
        if self._engine is not None:
            self._engine.dispose()
