"""The hot path of asking for a slot: what the rules need, and the rows a decision writes.

Prepared statements per request: the asker's lock, the device with its site, the site's
people, the slot-holding requests that overlap, the asker's open count, then the
inserts. The row mappings here (`request_row`, `permit_row`) are the only ones for
their tables: inserts and updates share them.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.domain.model import SLOT_HOLDING, Device, Permit, Policy, Site, Slot, UsageRequest, User
from app.store import tables as t
from app.store.errors import SlotOverlap
from app.store.prepared import Prepared

_R = t.usage_requests
_P = t.permits
_WAITING_OR_AHEAD: list[sa.ColumnElement[str]] = [
    sa.literal_column(f"'{s.value}'") for s in sorted(SLOT_HOLDING)
]

# Every counting rule (today: open requests per driver) reads the asker's rows and then
# writes one more. Locking the asker's user row first makes two asks of one driver take
# turns on any engine and in any process: the second counts after the first committed.
# PostgreSQL takes the row lock; SQLite, whose writers already take turns, gets no
# FOR UPDATE from SQLAlchemy.
_LOCK_ASKER = Prepared(
    sa.select(t.users.c.id).where(t.users.c.id == sa.bindparam("user_id")).with_for_update()
)
_CONTEXT = Prepared(
    sa.select(
        t.devices.c.id, t.devices.c.name, t.devices.c.site_id, t.devices.c.in_service,
        t.devices.c.max_power_w, t.devices.c.public_key,
        t.sites.c.name.label("site_name"), t.sites.c.timezone, t.sites.c.max_duration_min,
        t.sites.c.auto_approve_min, t.sites.c.horizon_days, t.sites.c.start_grace_s,
        t.sites.c.max_open_requests, t.sites.c.opens_at, t.sites.c.closes_at,
    )
    .join(t.sites, t.sites.c.id == t.devices.c.site_id)
    .where(t.devices.c.id == sa.bindparam("device_id"))
)  # fmt: skip
_PEOPLE = Prepared(
    sa.union_all(
        sa.select(t.site_managers.c.user_id, sa.literal_column("1").label("is_manager")).where(
            t.site_managers.c.site_id == sa.bindparam("site_id")
        ),
        sa.select(t.site_members.c.user_id, sa.literal_column("0").label("is_manager")).where(
            t.site_members.c.site_id == sa.bindparam("member_site_id")
        ),
    )
)
_TAKEN = Prepared(
    sa.select(_R.c.starts_at, _R.c.ends_at, _R.c.revocation_pending).where(
        _R.c.device_id == sa.bindparam("device_id"),
        t.holds_slot(_R),
        _R.c.starts_at < sa.bindparam("ends_at"),
        _R.c.ends_at > sa.bindparam("starts_at"),
    )
)
_OPEN = Prepared(
    sa.select(sa.func.count()).where(
        _R.c.user_id == sa.bindparam("user_id"),
        _R.c.status.in_(_WAITING_OR_AHEAD),
        _R.c.ends_at > sa.bindparam("now"),
    )
)
_INSERT_REQUEST = Prepared(
    _R.insert()
    .values({c.name: sa.bindparam(c.name) for c in _R.c if c.name != "id"})
    .returning(_R.c.id)
)
_UPDATE_REQUEST = Prepared(
    _R.update()
    .where(_R.c.id == sa.bindparam("request_id"))
    .values({c.name: sa.bindparam(c.name) for c in _R.c if c.name != "id"})
)
_INSERT_PERMIT = Prepared(_P.insert().values({c.name: sa.bindparam(c.name) for c in _P.c}))
_UPDATE_PERMIT = Prepared(
    _P.update()
    .where(_P.c.id == sa.bindparam("permit_id"))
    .values({c.name: sa.bindparam(c.name) for c in _P.c if c.name != "id"})
)
_INSERT_AUDIT = Prepared(
    t.audit_log.insert().values(
        {c.name: sa.bindparam(c.name) for c in t.audit_log.c if c.name != "id"}
    )
)


@dataclass(frozen=True)
class BookingContext:
    device: Device | None
    site: Site | None
    taken: list[Slot]  # slots of requests waiting for or holding the device
    held: list[Slot]  # slots a withdrawn, still-working permit keeps from everyone
    open_requests: int


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _epoch_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else _epoch(moment)


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def load_context(
    conn: Connection, user: User, device_id: str, slot: Slot, now: datetime
) -> BookingContext:
    _LOCK_ASKER.first(conn, user_id=user.id)
    row = _CONTEXT.first(conn, device_id=device_id)
    open_requests = _OPEN.scalar(conn, user_id=user.id, now=_epoch(now))
    if row is None:
        return BookingContext(None, None, [], [], open_requests)
    taken: list[Slot] = []
    held: list[Slot] = []
    for starts, ends, pending in _TAKEN.rows(
        conn, device_id=device_id, starts_at=_epoch(slot.starts_at), ends_at=_epoch(slot.ends_at)
    ):
        (held if pending else taken).append(Slot(_utc(starts), _utc(ends)))
    device = Device(
        row.id, row.name, row.site_id, bool(row.in_service), row.max_power_w, row.public_key
    )
    policy = Policy(
        max_duration=timedelta(minutes=row.max_duration_min),
        auto_approve_up_to=timedelta(minutes=row.auto_approve_min),
        booking_horizon=timedelta(days=row.horizon_days),
        start_grace=timedelta(seconds=row.start_grace_s),
        max_open_requests=row.max_open_requests,
        opens_at=time.fromisoformat(row.opens_at) if row.opens_at else None,
        closes_at=time.fromisoformat(row.closes_at) if row.closes_at else None,
    )
    people = _PEOPLE.rows(conn, site_id=row.site_id, member_site_id=row.site_id)
    site = Site(
        id=row.site_id,
        name=row.site_name,
        timezone=row.timezone,
        policy=policy,
        manager_ids=frozenset(person for person, is_manager in people if is_manager),
        member_ids=frozenset(person for person, is_manager in people if not is_manager),
    )
    return BookingContext(device, site, taken, held, open_requests)


def taken_slots(conn: Connection, device_id: str, slot: Slot) -> list[Slot]:
    """Slot-holding requests on the device that overlap `slot`."""
    rows = _TAKEN.rows(
        conn, device_id=device_id, starts_at=_epoch(slot.starts_at), ends_at=_epoch(slot.ends_at)
    )
    return [Slot(_utc(starts), _utc(ends)) for starts, ends, _ in rows]


def request_row(request: UsageRequest) -> dict[str, Any]:
    """A request as its row's plain values (times as epoch seconds, reasons as JSON text)."""
    return {
        "user_id": request.user_id,
        "device_id": request.device_id,
        "site_id": request.site_id,
        "starts_at": _epoch(request.slot.starts_at),
        "ends_at": _epoch(request.slot.ends_at),
        "status": request.status.value,
        "reasons": json.dumps([{"code": r.code, "message": r.message} for r in request.reasons]),
        "created_at": _epoch(request.created_at),
        "decided_by": request.decided_by,
        "note": request.note,
        "energy_wh": request.energy_wh,
        "revocation_pending": request.revocation_pending,
    }


def insert_request(conn: Connection, request: UsageRequest) -> str:
    try:
        new_id = _INSERT_REQUEST.scalar(conn, **request_row(request))
    except sa.exc.IntegrityError as err:
        raise SlotOverlap(request.device_id) from err
    return str(new_id)


def update_request(conn: Connection, request: UsageRequest) -> None:
    try:
        _UPDATE_REQUEST.run(conn, request_id=int(request.id), **request_row(request))
    except sa.exc.IntegrityError as err:
        raise SlotOverlap(request.device_id) from err


def permit_row(permit: Permit) -> dict[str, Any]:
    return {
        "request_id": int(permit.request_id),
        "device_id": permit.device_id,
        "user_id": permit.user_id,
        "not_before": _epoch(permit.not_before),
        "expires_at": _epoch(permit.expires_at),
        "issued_at": _epoch(permit.issued_at),
        "max_energy_wh": permit.max_energy_wh,
        "max_power_w": permit.max_power_w,
        "token": permit.token,
        "revoked_at": _epoch_or_none(permit.revoked_at),
        "revoked_in_sequence": permit.revoked_in_sequence,
        "revocation_confirmed_at": _epoch_or_none(permit.revocation_confirmed_at),
        "kid": permit.kid,
    }


def insert_permit(conn: Connection, permit: Permit) -> None:
    _INSERT_PERMIT.run(conn, id=permit.id, **permit_row(permit))


def update_permit(conn: Connection, permit: Permit) -> None:
    _UPDATE_PERMIT.run(conn, permit_id=permit.id, **permit_row(permit))


def insert_audit(
    conn: Connection, *, at: datetime, actor_id: str | None, action: str, entity: str,
    entity_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
    site_id: str | None = None,
) -> None:  # fmt: skip
    _INSERT_AUDIT.run(
        conn,
        at=_epoch(at),
        actor_id=actor_id,
        action=action,
        entity=entity,
        entity_id=entity_id,
        before=None if before is None else json.dumps(before),
        after=None if after is None else json.dumps(after),
        site_id=site_id,
    )
