"""Webhook subscriptions, their deliveries and attempts, and the dispatcher's outbox cursor.

Deliveries are made from event_outbox rows (app/store/outbox.py) after the cursor; the
cursor moves in the transaction that inserts them, so a crash between the two is not
possible. Due deliveries are leased to one sender with FOR UPDATE SKIP LOCKED (SQLite
ignores it: one process writes there).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.store import tables as t

_S, _D, _A, _C, _O = (
    t.webhook_subscriptions,
    t.webhook_deliveries,
    t.webhook_attempts,
    t.webhook_cursor,
    t.event_outbox,
)
CURSOR = "outbox"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True)
class Subscription:
    id: str
    site_id: str
    owner_user_id: str
    url: str
    secret: str
    events: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None = None


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class Delivery:
    id: int
    subscription_id: str
    event_id: str
    request_id: str
    event_type: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class NewDelivery:
    subscription_id: str
    event_id: str
    request_id: str
    event_type: str
    payload: str


@dataclass(frozen=True)
class Due:
    """A leased delivery with what sending it needs."""

    delivery: Delivery
    url: str
    secret: str
    entitled: bool  # False: its owner may no longer see the site; not to be posted


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    created_ms: int
    payload: str


def _subscription(row: Any) -> Subscription:
    return Subscription(
        row.id,
        row.site_id,
        row.owner_user_id,
        row.url,
        row.secret,
        tuple(row.events),
        row.created_at,
        row.disabled_at,
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(**{column.name: row._mapping[column.name] for column in _D.columns})


# Subscriptions


def add_subscription(conn: Connection, sub: Subscription) -> None:
    conn.execute(
        sa.insert(_S).values(
            id=sub.id,
            site_id=sub.site_id,
            owner_user_id=sub.owner_user_id,
            url=sub.url,
            secret=sub.secret,
            events=list(sub.events),
            created_at=sub.created_at,
        )
    )


def get_subscription(conn: Connection, subscription_id: str) -> Subscription | None:
    row = conn.execute(
        sa.select(_S).where(_S.c.id == subscription_id, _S.c.disabled_at.is_(None))
    ).first()
    return _subscription(row) if row else None


def subscriptions_of(conn: Connection, site_id: str) -> list[Subscription]:
    query = (
        sa.select(_S)
        .where(_S.c.site_id == site_id, _S.c.disabled_at.is_(None))
        .order_by(_S.c.created_at, _S.c.id)
    )
    return [_subscription(row) for row in conn.execute(query)]


def _owner_entitled() -> sa.ColumnElement[bool]:
    """Whether a subscription's owner may still see its site's requests: a manager, not
    disabled, listed for the site, and not the service account of a revoked OAuth2 client.
    A webhook outlives none of these: it sends only what its owner could still read."""
    users, clients = t.users, t.oauth_clients
    return sa.and_(
        sa.exists().where(
            users.c.id == _S.c.owner_user_id,
            users.c.role == "manager",
            users.c.disabled_at.is_(None),
        ),
        sa.exists().where(
            t.site_managers.c.site_id == _S.c.site_id,
            t.site_managers.c.user_id == _S.c.owner_user_id,
        ),
        ~sa.exists().where(
            clients.c.service_user_id == _S.c.owner_user_id, clients.c.revoked_at.is_not(None)
        ),
    )


def active_subscriptions(conn: Connection) -> list[Subscription]:
    """The subscriptions deliveries are made for: not deleted, their owner still entitled."""
    query = sa.select(_S).where(_S.c.disabled_at.is_(None), _owner_entitled())
    return [_subscription(row) for row in conn.execute(query)]


def disable_subscription(conn: Connection, subscription_id: str, at: datetime) -> None:
    """Its deliveries still waiting are given up: nobody wants them any more."""
    conn.execute(sa.update(_S).where(_S.c.id == subscription_id).values(disabled_at=at))
    conn.execute(
        sa.update(_D)
        .where(_D.c.subscription_id == subscription_id, _D.c.status == PENDING)
        .values(status=FAILED, next_attempt_at=None, last_error="subscription deleted")
    )


# The dispatcher's side: outbox rows after the cursor become deliveries


def cursor(conn: Connection) -> int | None:
    return conn.execute(sa.select(_C.c.seq).where(_C.c.name == CURSOR)).scalar()


def move_cursor(conn: Connection, seq: int) -> None:
    if conn.execute(sa.update(_C).where(_C.c.name == CURSOR).values(seq=seq)).rowcount == 0:
        conn.execute(sa.insert(_C).values(name=CURSOR, seq=seq))


def has_unread(conn: Connection) -> bool:
    """Whether an outbox row waits after the cursor (never, while no cursor exists)."""
    after = sa.select(_C.c.seq).where(_C.c.name == CURSOR).scalar_subquery()
    return conn.execute(sa.select(_O.c.seq).where(_O.c.seq > after).limit(1)).first() is not None


def outbox_after(conn: Connection, after_seq: int, limit: int) -> list[OutboxRow]:
    return _outbox_rows(conn, _O.c.seq > after_seq, limit=limit)


def outbox_rows(conn: Connection, seqs: Iterable[int]) -> list[OutboxRow]:
    wanted = list(seqs)
    return _outbox_rows(conn, _O.c.seq.in_(wanted)) if wanted else []


def outbox_since(conn: Connection, since_ms: int, up_to_seq: int) -> list[OutboxRow]:
    """Rows at or below the cursor written since `since_ms`: what a dispatcher taking over
    reads again, since one committed late may have been passed by (deliveries made already
    are not made twice: see `add_deliveries`)."""
    return _outbox_rows(conn, _O.c.created_ms >= since_ms, _O.c.seq <= up_to_seq)


def _outbox_rows(
    conn: Connection, *where: sa.ColumnElement[bool], limit: int | None = None
) -> list[OutboxRow]:
    query = sa.select(_O.c.seq, _O.c.created_ms, _O.c.payload).where(*where).order_by(_O.c.seq)
    if limit is not None:
        query = query.limit(limit)
    return [OutboxRow(int(r.seq), int(r.created_ms), r.payload) for r in conn.execute(query)]


def add_deliveries(conn: Connection, new: Sequence[NewDelivery], now: datetime) -> int:
    """Insert those not made already (same subscription, request and event type); returns
    how many were inserted. One dispatcher runs at a time, so read-then-insert is safe, and
    the unique key refuses a second one should two ever run."""
    if not new:
        return 0
    existing = {
        tuple(row)
        for row in conn.execute(
            sa.select(_D.c.subscription_id, _D.c.request_id, _D.c.event_type).where(
                _D.c.subscription_id.in_({d.subscription_id for d in new}),
                _D.c.request_id.in_({d.request_id for d in new}),
            )
        )
    }
    rows, seen = [], set()
    for d in new:
        key = (d.subscription_id, d.request_id, d.event_type)
        if key in existing or key in seen:
            continue
        seen.add(key)
        rows.append(
            {
                "subscription_id": d.subscription_id,
                "event_id": d.event_id,
                "request_id": d.request_id,
                "event_type": d.event_type,
                "payload": d.payload,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    if rows:
        conn.execute(sa.insert(_D), rows)
    return len(rows)


# The sender's side


def claim_due(conn: Connection, now: datetime, lease_until: datetime, limit: int) -> list[Due]:
    """Pending deliveries due by `now`, leased until `lease_until`: a sender that dies while
    posting leaves them to be tried again once the lease runs out."""
    rows = conn.execute(
        sa.select(_D, _S.c.url, _S.c.secret, _owner_entitled().label("entitled"))
        .join(_S, _S.c.id == _D.c.subscription_id)
        .where(_D.c.status == PENDING, _D.c.next_attempt_at <= now)
        .order_by(_D.c.next_attempt_at, _D.c.id)
        .limit(limit)
        .with_for_update(of=_D, skip_locked=True)
    ).all()
    if rows:
        conn.execute(
            sa.update(_D)
            .where(_D.c.id.in_([row.id for row in rows]))
            .values(next_attempt_at=lease_until)
        )
    return [Due(_delivery(row), row.url, row.secret, bool(row.entitled)) for row in rows]


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    attempt: Attempt
    status: str  # what the delivery is now
    next_attempt_at: datetime | None


# Statements built once, run for a batch's outcomes together (executemany).
_RECORD_ATTEMPT = sa.insert(_A).values(
    delivery_id=sa.bindparam("d_id"),
    at=sa.bindparam("d_at", type_=t.EpochSeconds),
    status_code=sa.bindparam("d_code"),
    error=sa.bindparam("d_error"),
    duration_ms=sa.bindparam("d_ms"),
)
_RECORD_DELIVERY = (
    sa.update(_D)
    .where(_D.c.id == sa.bindparam("d_id"), _D.c.status == PENDING)
    .values(
        status=sa.bindparam("d_status"),
        attempts=_D.c.attempts + 1,
        next_attempt_at=sa.bindparam("d_next", type_=t.EpochSeconds),
        last_status_code=sa.bindparam("d_code"),
        last_error=sa.bindparam("d_error"),
        delivered_at=sa.bindparam("d_delivered", type_=t.EpochSeconds),
    )
)


def record(conn: Connection, outcomes: Sequence[Outcome]) -> None:
    """Each attempt kept, and its delivery moved on, unless it is no longer pending (its
    subscription was deleted meanwhile)."""
    if not outcomes:
        return
    rows = [
        {
            "d_id": o.delivery_id,
            "d_at": o.attempt.at,
            "d_code": o.attempt.status_code,
            "d_error": o.attempt.error,
            "d_ms": o.attempt.duration_ms,
            "d_status": o.status,
            "d_next": o.next_attempt_at,
            "d_delivered": o.attempt.at if o.status == DELIVERED else None,
        }
        for o in outcomes
    ]
    conn.execute(_RECORD_ATTEMPT, rows)
    conn.execute(_RECORD_DELIVERY, rows)


def has_due(conn: Connection, now: datetime) -> bool:
    query = sa.select(_D.c.id).where(_D.c.status == PENDING, _D.c.next_attempt_at <= now)
    return conn.execute(query.limit(1)).first() is not None


def prune(conn: Connection, created_before: datetime, limit: int) -> int:
    """Drop finished deliveries made before `created_before` with their attempts, a bounded
    batch per transaction; the oldest first (ids grow with time)."""
    doomed = [
        row.id
        for row in conn.execute(
            sa.select(_D.c.id)
            .where(_D.c.status != PENDING, _D.c.created_at < created_before)
            .order_by(_D.c.id)
            .limit(limit)
        )
    ]
    if doomed:
        conn.execute(sa.delete(_A).where(_A.c.delivery_id.in_(doomed)))
        conn.execute(sa.delete(_D).where(_D.c.id.in_(doomed)))
    return len(doomed)


# What the integrator sees


def recent_deliveries(
    conn: Connection, subscription_id: str, limit: int
) -> list[tuple[Delivery, list[Attempt]]]:
    deliveries = [
        _delivery(row)
        for row in conn.execute(
            sa.select(_D)
            .where(_D.c.subscription_id == subscription_id)
            .order_by(_D.c.id.desc())
            .limit(limit)
        )
    ]
    attempts: dict[int, list[Attempt]] = {d.id: [] for d in deliveries}
    if deliveries:
        for row in conn.execute(
            sa.select(_A).where(_A.c.delivery_id.in_(list(attempts))).order_by(_A.c.id)
        ):
            attempts[row.delivery_id].append(
                Attempt(row.at, row.status_code, row.error, row.duration_ms)
            )
    return [(d, attempts[d.id]) for d in deliveries]
