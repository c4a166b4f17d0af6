"""Statements compiled once per dialect and run through the driver directly.

SQLAlchemy builds, caches and type-processes a Core statement on every execution, about
0.1-0.2 ms each here; on the hot path (a request for a slot) that was most of the cost.
A `Prepared` statement is still written in Core, so SQLAlchemy writes the SQL for SQLite
and PostgreSQL alike, but it is compiled once and its parameters go straight to the
driver. Callers pass plain values: times as epoch seconds, JSON as text.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.sql import Executable


class Prepared:
    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, Sequence[str] | None]] = {}

    def __call__(self, conn: Connection, **params: Any) -> CursorResult[Any]:
        sql, order = self._for(conn)
        if order is None:
            return conn.exec_driver_sql(sql, params)
        return conn.exec_driver_sql(sql, tuple(params[name] for name in order))

    def _for(self, conn: Connection) -> tuple[str, Sequence[str] | None]:
        key = conn.dialect.name
        found = self._compiled.get(key)
        if found is None:
            compiled = self.statement.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
            order = list(compiled.positiontup) if compiled.positional else None
            found = self._compiled[key] = (compiled.string, order)
        return found
