"""The event outbox: rows written inside a state change's transaction, read by the relay
(rows nobody published), by catching-up listeners (rows after a sequence) and by metrics.

Times are wall-clock milliseconds: a relay's grace period and the event lag are about
real time, whatever clock the services run on.
"""

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.domain.events import UsageRequestChanged
from app.store import tables as t
from app.store.prepared import Prepared
from app.store.webhooks import CURSOR as WEBHOOK_CURSOR

Event = UsageRequestChanged
_outbox = t.event_outbox


def now_ms() -> int:
    return int(time.time() * 1000)


def encode(event: Event) -> str:
    return json.dumps(vars(event), separators=(",", ":"))


def decode(payload: str | bytes) -> Event:
    fields: dict[str, Any] = json.loads(payload)
    return Event(**fields)


# On every state change's path: compiled once, run on the driver's cursor (prepared.py).
# Through plain Core it cost ~0.3 ms per insert, as much as the rest of an ask on SQLite.
_INSERT = Prepared(
    sa.insert(_outbox)
    .values(
        event_id=sa.bindparam("event_id"),
        payload=sa.bindparam("payload"),
        created_ms=sa.bindparam("created_ms"),
    )
    .returning(_outbox.c.seq)
)


def insert(conn: Connection, event: Event) -> Event:
    """Store `event` in the caller's transaction; returns it with its id and sequence."""
    event_id = uuid.uuid4().hex
    body = {**vars(event), "id": event_id, "sequence": 0}  # vars: asdict deep-copies, ~5x slower
    payload = json.dumps(body, separators=(",", ":"))
    seq = _INSERT.scalar(conn, event_id=event_id, payload=payload, created_ms=now_ms())
    return Event(**{**body, "sequence": int(seq)})


def insert_many(conn: Connection, events: Sequence[Event]) -> list[Event]:
    """`insert` for many events as one multi-row INSERT (SQLAlchemy's "insertmanyvalues"):
    the sweep's batches, where a round trip per event made a 200-row batch crawl on
    PostgreSQL. Each event gets its own id and its row's sequence, as from `insert`;
    returned in the order given, which is also their sequences' order (one statement
    numbers its rows in order)."""
    if not events:
        return []
    created = now_ms()
    bodies = [{**vars(event), "id": uuid.uuid4().hex, "sequence": 0} for event in events]
    rows = [
        {
            "event_id": body["id"],
            "payload": json.dumps(body, separators=(",", ":")),
            "created_ms": created,
        }
        for body in bodies
    ]
    inserted = conn.execute(sa.insert(_outbox).returning(_outbox.c.event_id, _outbox.c.seq), rows)
    # Matched by id: RETURNING's row order is not promised by every engine.
    seqs = {row.event_id: int(row.seq) for row in inserted}
    return [Event(**{**body, "sequence": seqs[body["id"]]}) for body in bodies]


def _with_seq(row: Any) -> Event:
    """The stored payload was written before its sequence existed: the row's seq is it."""
    fields: dict[str, Any] = json.loads(row.payload)
    return Event(**{**fields, "sequence": int(row.seq)})


def claim_orphans(conn: Connection, older_than_ms: int, lease_ms: int, limit: int) -> list[Event]:
    """Unpublished rows older than the grace period and not leased by another relay: leased
    to this one for `lease_ms`. SKIP LOCKED lets relays in several processes share the work
    without waiting on each other (SQLite ignores it: one process writes there)."""
    now = now_ms()
    rows = conn.execute(
        sa.select(_outbox.c.seq, _outbox.c.payload)
        .where(
            _outbox.c.published_ms.is_(None),
            _outbox.c.created_ms < older_than_ms,
            sa.or_(_outbox.c.claimed_until_ms.is_(None), _outbox.c.claimed_until_ms < now),
        )
        .order_by(_outbox.c.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if rows:
        conn.execute(
            sa.update(_outbox)
            .where(_outbox.c.seq.in_([row.seq for row in rows]))
            .values(claimed_until_ms=now + lease_ms)
        )
    return [_with_seq(row) for row in rows]


def has_orphans(conn: Connection, older_than_ms: int) -> bool:
    """A read before the claiming write: an idle relay never takes the writer's lock."""
    query = sa.select(_outbox.c.seq).where(
        _outbox.c.published_ms.is_(None), _outbox.c.created_ms < older_than_ms
    )
    return conn.execute(query.limit(1)).first() is not None


def mark_published(conn: Connection, seqs: list[int]) -> None:
    conn.execute(
        sa.update(_outbox)
        .where(_outbox.c.seq.in_(seqs), _outbox.c.published_ms.is_(None))
        .values(published_ms=now_ms())
    )


def since(conn: Connection, after_seq: int, since_ms: int, limit: int) -> list[Event]:
    """Rows after `after_seq`, and any created since `since_ms`: a transaction that took
    its sequence earlier may have committed after a later one was seen, so the time window
    catches what sequence order alone would skip (the bus drops what it already had)."""
    rows = conn.execute(
        sa.select(_outbox.c.seq, _outbox.c.payload)
        .where(sa.or_(_outbox.c.seq > after_seq, _outbox.c.created_ms >= since_ms))
        .order_by(_outbox.c.seq)
        .limit(limit)
    ).all()
    return [_with_seq(row) for row in rows]


def last_seq(conn: Connection) -> int:
    return int(
        conn.execute(sa.select(sa.func.coalesce(sa.func.max(_outbox.c.seq), 0))).scalar_one()
    )


def prune(conn: Connection, published_before_ms: int, limit: int) -> int:
    """Drop published rows older than the retention, a bounded batch per transaction; never
    one the webhook dispatcher has not read yet (app/services/webhook_delivery.py): its
    deliveries are made from these rows, however long it was stopped. The row at its
    cursor stays too: SQLite numbers a new row after the highest one left, and with that
    one gone a new row could be numbered below the cursor and never be read."""
    cursor = t.webhook_cursor.c.name == WEBHOOK_CURSOR
    read_by_webhooks = sa.or_(
        ~sa.exists().where(cursor),
        _outbox.c.seq < sa.select(t.webhook_cursor.c.seq).where(cursor).scalar_subquery(),
    )
    doomed = (
        sa.select(_outbox.c.seq)
        .where(
            _outbox.c.published_ms.is_not(None),
            _outbox.c.created_ms < published_before_ms,
            read_by_webhooks,
        )
        .order_by(_outbox.c.seq)
        .limit(limit)
        .scalar_subquery()
    )
    return int(conn.execute(sa.delete(_outbox).where(_outbox.c.seq.in_(doomed))).rowcount)


def backlog(conn: Connection) -> tuple[int, int | None]:
    """How many events are unpublished, and when the oldest of them was written."""
    count, oldest = conn.execute(
        sa.select(sa.func.count(), sa.func.min(_outbox.c.created_ms)).where(
            _outbox.c.published_ms.is_(None)
        )
    ).one()
    return int(count), None if oldest is None else int(oldest)
