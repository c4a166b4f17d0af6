"""Statements compiled once per dialect and run on the driver's own cursor.

SQLAlchemy builds, caches and type-processes a Core statement on every execution, about
0.1-0.2 ms each here, and even `exec_driver_sql` costs ~30 µs of bookkeeping around a
statement SQLite runs in a few. On the hot path (a request for a slot) that was most of
the cost. A `Prepared` statement is still written in Core, so SQLAlchemy writes the SQL
for SQLite and PostgreSQL alike, but it is compiled once and its parameters go straight
to the driver cursor of the connection's current transaction. Callers pass plain values
(times as epoch seconds, JSON as text) and get rows as named tuples. Driver errors come
back as SQLAlchemy's exception classes, as from any other statement.
"""

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable


class Prepared:
    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        # A SELECT's columns, or an INSERT's RETURNING columns (none without RETURNING).
        names = list(statement.exported_columns.keys())  # type: ignore[attr-defined]
        self._row = namedtuple("Row", names) if names else None
        self._compiled: dict[str, tuple[str, Sequence[str]]] = {}

    def rows(self, conn: Connection, **params: Any) -> list[Any]:
        cursor = self._execute(conn, params)
        make = self._row
        assert make is not None, "this statement returns no rows"
        return [make(*row) for row in cursor.fetchall()]

    def first(self, conn: Connection, **params: Any) -> Any | None:
        found = self.rows(conn, **params)
        return found[0] if found else None

    def scalar(self, conn: Connection, **params: Any) -> Any:
        row = self.first(conn, **params)
        if row is None:
            raise sa.exc.NoResultFound("a prepared statement returned no row")
        return row[0]

    def run(self, conn: Connection, **params: Any) -> None:
        self._execute(conn, params)

    def _execute(self, conn: Connection, params: dict[str, Any]) -> Any:
        sql, order = self._for(conn)
        raw = conn.connection.dbapi_connection
        assert raw is not None
        values = tuple(params[name] for name in order)
        cursor = raw.cursor()
        try:
            cursor.execute(sql, values)
        except conn.dialect.loaded_dbapi.Error as err:
            raise sa.exc.DBAPIError.instance(
                sql, values, err, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
            ) from err
        return cursor

    def _for(self, conn: Connection) -> tuple[str, Sequence[str]]:
        key = conn.dialect.name
        found = self._compiled.get(key)
        if found is None:
            compiled = self.statement.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
            if not compiled.positional:
                raise ValueError(f"{key}: prepared statements need a positional paramstyle")
            found = self._compiled[key] = (compiled.string, list(compiled.positiontup))
        return found
