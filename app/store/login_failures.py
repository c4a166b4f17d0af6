"""login_failures rows: how many sign-ins failed per key, and when the last one did."""

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from app.store import tables as t

_rows = t.login_failures


def read(conn: Connection, keys: Iterable[str]) -> dict[str, tuple[int, int]]:
    """key -> (failures, last failure in ms), for the keys that have a row."""
    query = sa.select(_rows).where(_rows.c.key.in_(list(keys)))
    return {row.key: (row.failures, row.last_failure_ms) for row in conn.execute(query)}


def add_failure(conn: Connection, key: str, now_ms: int, forgotten_before_ms: int) -> int:
    """One more failure for `key`, counted in the row itself so that processes failing at
    once add up (a count whose last failure is at or before `forgotten_before_ms` starts
    again); returns the count now."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    counted = sa.case(
        (_rows.c.last_failure_ms <= forgotten_before_ms, 1), else_=_rows.c.failures + 1
    )
    query = (
        insert(_rows)
        .values(key=key, failures=1, last_failure_ms=now_ms)
        .on_conflict_do_update(
            index_elements=[_rows.c.key],
            set_={"failures": counted, "last_failure_ms": now_ms},
        )
        .returning(_rows.c.failures)
    )
    return int(conn.execute(query).scalar_one())


def clear(conn: Connection, key: str) -> None:
    conn.execute(_rows.delete().where(_rows.c.key == key))


def prune(conn: Connection, before_ms: int) -> int:
    """Drops the keys with no failure since `before_ms`; returns how many."""
    return conn.execute(_rows.delete().where(_rows.c.last_failure_ms < before_ms)).rowcount
