"""Transactions as callers see them: each one whole or not at all, durable on return.

On SQLite, concurrent writes share commits (group commit); on PostgreSQL each has its
own. Either way a caller must not be able to tell: these run on both.
"""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.services.container import Services
from app.store import tables as t
from app.store.booking import insert_audit

NOW = datetime(2026, 11, 26, tzinfo=UTC)


class Refused(Exception):
    pass


def record(conn: Connection, entity_id: str) -> str:
    insert_audit(
        conn, at=NOW, actor_id=None, action="test", entity="probe", entity_id=entity_id,
        before=None, after=None,
    )  # fmt: skip
    return entity_id


def record_then_refuse(conn: Connection, entity_id: str) -> Any:
    record(conn, entity_id)
    raise Refused(entity_id)


async def stored(services: Services) -> list[str]:
    """What a new transaction sees: only what was committed."""

    def read(conn: Connection) -> list[str]:
        query = sa.select(t.audit_log.c.entity_id).where(t.audit_log.c.entity == "probe")
        return sorted(conn.execute(query).scalars())

    return await services.db.read(read)


async def test_concurrent_writes_all_return_their_own_result_and_are_stored(
    services: Services,
) -> None:
    ids = [f"w{i:02}" for i in range(40)]
    results = await asyncio.gather(
        *(services.db.write(lambda conn, i=i: record(conn, i)) for i in ids)
    )
    assert results == ids
    assert await stored(services) == ids


async def test_a_failing_transaction_is_undone_alone_and_its_caller_hears_why(
    services: Services,
) -> None:
    def work(i: int) -> Any:
        if i % 5 == 0:
            return lambda conn: record_then_refuse(conn, f"bad{i:02}")
        return lambda conn: record(conn, f"ok{i:02}")

    results = await asyncio.gather(
        *(services.db.write(work(i)) for i in range(20)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, Refused)]
    assert [str(r) for r in refused] == ["bad00", "bad05", "bad10", "bad15"]
    assert await stored(services) == [f"ok{i:02}" for i in range(20) if i % 5]


async def test_a_write_after_a_failed_one_still_commits(services: Services) -> None:
    with pytest.raises(Refused):
        await services.db.write(lambda conn: record_then_refuse(conn, "bad"))
    assert await services.db.write(lambda conn: record(conn, "after")) == "after"
    assert await stored(services) == ["after"]
