"""Group commit for SQLite: the writes that arrive while one commit is on its way to the
disk share the next commit.

With `synchronous=FULL` every commit waits for an fsync, and SQLite has one writer. One
commit per request therefore made the fsync the price of every approval, paid with the
event loop blocked. Here a single writer task takes every transaction waiting in line,
runs each inside its own SAVEPOINT of one `BEGIN IMMEDIATE` transaction, and commits them
together in a worker thread (sqlite3 releases the GIL for the commit), so the loop keeps
parsing and checking the next requests while the disk works.

What a caller sees does not change: `write` returns (or raises) only after the commit that
holds its transaction is durable. A transaction that raises is rolled back to its
savepoint alone; the others in the batch still commit. If the commit itself fails, every
caller in the batch gets that error and nothing of the batch is stored.
"""

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine

T = TypeVar("T")

MAX_BATCH = 64  # bounds how long the last transaction of a batch waits for its commit


@dataclass
class _Waiting:
    work: Callable[[Connection], Any]
    settled: "asyncio.Future[Any]"


class GroupCommit:
    def __init__(self, engine: Engine, begin_option: str) -> None:
        self._engine = engine
        self._begin_option = begin_option
        self._line: deque[_Waiting] = deque()
        self._writer: asyncio.Task[None] | None = None

    async def write(self, work: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(work, loop.create_future())
        self._line.append(waiting)
        if self._writer is None or self._writer.done() or self._writer.get_loop() is not loop:
            self._writer = loop.create_task(self._drain())
        result: T = await waiting.settled
        return result

    async def drained(self) -> None:
        """Wait until every transaction handed in so far is committed (for shutdown)."""
        if self._writer is not None and not self._writer.done():
            await self._writer

    async def _drain(self) -> None:
        while self._line:
            batch = [self._line.popleft() for _ in range(min(len(self._line), MAX_BATCH))]
            try:
                await self._commit(batch)
            except BaseException as err:  # noqa: BLE001 - every caller must hear of it
                for waiting in batch:
                    _settle(waiting.settled, None, err)
                if not isinstance(err, Exception):
                    raise

    async def _commit(self, batch: list[_Waiting]) -> None:
        with self._engine.connect() as conn:
            conn.execution_options(**{self._begin_option: "BEGIN IMMEDIATE"})
            transaction = conn.begin()
            outcomes = [_attempt(conn, waiting.work) for waiting in batch]
            await asyncio.to_thread(transaction.commit)
        for waiting, (result, error) in zip(batch, outcomes, strict=True):
            _settle(waiting.settled, result, error)


def _attempt(conn: Connection, work: Callable[[Connection], Any]) -> tuple[Any, Exception | None]:
    """One caller's transaction inside the batch, undone alone if it raises."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.execute("SAVEPOINT work")
    try:
        result = work(conn)
    except Exception as err:  # noqa: BLE001 - handed to its caller after the commit
        raw.execute("ROLLBACK TO work")
        raw.execute("RELEASE work")
        return None, err
    raw.execute("RELEASE work")
    return result, None


def _settle(settled: "asyncio.Future[Any]", result: Any, error: BaseException | None) -> None:
    if settled.done():  # its caller went away (cancelled); the work is committed regardless
        return
    if error is not None:
        settled.set_exception(error)
    else:
        settled.set_result(result)
