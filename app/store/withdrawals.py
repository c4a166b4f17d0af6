"""access_withdrawals rows: written by whoever withdraws, read by every process's poller."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.store import tables as t

_rows = t.access_withdrawals


@dataclass(frozen=True)
class Withdrawal:
    seq: int
    kind: str  # "user", "client" or "token"
    subject: str
    at: datetime
    until: datetime


def _withdrawal(row: sa.Row[tuple[int, str, str, datetime, datetime]]) -> Withdrawal:
    return Withdrawal(int(row.seq), row.kind, row.subject, row.at, row.until)


def insert(conn: Connection, kind: str, subject: str, at: datetime, until: datetime) -> int:
    query = _rows.insert().values(kind=kind, subject=subject, at=at, until=until)
    return int(conn.execute(query.returning(_rows.c.seq)).scalar_one())


def after(conn: Connection, seq: int) -> list[Withdrawal]:
    """Rows newer than `seq`, in order (the primary key's index)."""
    query = sa.select(_rows).where(_rows.c.seq > seq).order_by(_rows.c.seq)
    return [_withdrawal(row) for row in conn.execute(query)]


def live(conn: Connection, now: datetime) -> tuple[list[Withdrawal], int]:
    """The rows that still matter at `now` (the until index), and the newest seq of all."""
    query = sa.select(_rows).where(_rows.c.until > now).order_by(_rows.c.seq)
    rows = [_withdrawal(row) for row in conn.execute(query)]
    newest = conn.execute(sa.select(sa.func.max(_rows.c.seq))).scalar()
    return rows, int(newest or 0)


def prune(conn: Connection, now: datetime) -> int:
    """Drops the rows that no longer matter, but always keeps the newest: SQLite numbers a
    new row max(seq) + 1, and a seq handed out again would be one the pollers think they
    have seen. Returns how many went."""
    newest = sa.select(sa.func.max(_rows.c.seq)).scalar_subquery()
    query = _rows.delete().where((_rows.c.until <= now) & (_rows.c.seq < newest))
    return conn.execute(query).rowcount
