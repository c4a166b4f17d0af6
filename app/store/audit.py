"""The audit trail: one row per state change, written in the change's own transaction, and
a site's rows read back newest first.

Each row names the site whose log shows it, so a site's page is one index range
(site_id, at) rather than a search through every request, charger and permit."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.store import tables as t
from app.store.booking import insert_audit

_A, _U, _R, _D, _P = t.audit_log, t.users, t.usage_requests, t.devices, t.permits


class AuditLog:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record(
        self,
        *,
        at: datetime,
        actor_id: str | None,
        action: str,
        entity: str,
        entity_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        site_id: str | None = None,
    ) -> None:
        """`site_id` None: found through the thing that changed (one more query; the hot
        paths pass it)."""
        insert_audit(
            self.conn,
            at=at,
            actor_id=actor_id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=before,
            after=after,
            site_id=site_id or site_of(self.conn, entity, entity_id),
        )

    def record_many(self, rows: Sequence["AuditRow"]) -> None:
        """Many rows as one multi-row INSERT (the sweep's batches: a round trip per row
        made a 200-row batch crawl on PostgreSQL). A row's `site_id` None is found as in
        `record`."""
        if not rows:
            return
        # RETURNING makes SQLAlchemy send one multi-row INSERT on every driver
        # ("insertmanyvalues"); without it asyncpg gets one statement per row.
        self.conn.execute(
            sa.insert(_A).returning(_A.c.id),
            [
                {
                    "at": row.at,
                    "actor_id": row.actor_id,
                    "action": row.action,
                    "entity": row.entity,
                    "entity_id": row.entity_id,
                    "before": row.before,
                    "after": row.after,
                    "site_id": row.site_id or site_of(self.conn, row.entity, row.entity_id),
                }
                for row in rows
            ],
        )

    def for_entity(self, entity: str, entity_id: str) -> list[dict[str, Any]]:
        query = (
            sa.select(_A)
            .where(_A.c.entity == entity, _A.c.entity_id == entity_id)
            .order_by(_A.c.id)
        )
        return [dict(row) for row in self.conn.execute(query).mappings()]


@dataclass(frozen=True)
class AuditRow:
    """One row for `AuditLog.record_many`: what `record` takes, as a value."""

    at: datetime
    actor_id: str | None
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    site_id: str | None = None


def site_of(conn: Connection, entity: str, entity_id: str) -> str | None:
    """The site a changed thing belongs to (the rule migration 0007 filled old rows by)."""
    query: sa.Select[Any]
    if entity == "site":
        return entity_id
    if entity == "usage_request":
        if not entity_id.isdigit():
            return None
        query = sa.select(_R.c.site_id).where(_R.c.id == int(entity_id))
    elif entity == "device":
        query = sa.select(_D.c.site_id).where(_D.c.id == entity_id)
    elif entity == "permit":
        query = (
            sa.select(_D.c.site_id).join(_P, _P.c.device_id == _D.c.id).where(_P.c.id == entity_id)
        )
    else:
        return None
    site_id = conn.execute(query).scalar_one_or_none()
    return None if site_id is None else str(site_id)


@dataclass(frozen=True)
class AuditSearch:
    site_ids: Sequence[str]
    actor_id: str | None = None
    any_actor: bool = True  # False with actor_id None: the server's own changes only
    action: str | None = None
    at_from: datetime | None = None
    at_before: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor_id: str | None
    actor_name: str | None
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def _conditions(search: AuditSearch) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [_A.c.site_id.in_(list(search.site_ids))]
    if search.actor_id is not None:
        where.append(_A.c.actor_id == search.actor_id)
    elif not search.any_actor:
        where.append(_A.c.actor_id.is_(None))
    if search.action is not None:
        where.append(_A.c.action == search.action)
    if search.at_from is not None:
        where.append(_A.c.at >= search.at_from)
    if search.at_before is not None:
        where.append(_A.c.at < search.at_before)
    return where


def count_audit(conn: Connection, search: AuditSearch) -> int:
    query = sa.select(sa.func.count()).select_from(_A).where(*_conditions(search))
    return int(conn.execute(query).scalar_one())


def search_audit(
    conn: Connection, search: AuditSearch, *, offset: int, limit: int
) -> list[AuditEntry]:
    """Newest first (in the order of the (site_id, at) index), with the actor's name."""
    query = (
        sa.select(_A, _U.c.display_name.label("actor_name"))
        .outerjoin(_U, _U.c.id == _A.c.actor_id)
        .where(*_conditions(search))
        .order_by(_A.c.at.desc(), _A.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [
        AuditEntry(
            id=row["id"],
            at=row["at"],
            actor_id=row["actor_id"],
            actor_name=row["actor_name"],
            action=row["action"],
            entity=row["entity"],
            entity_id=row["entity_id"],
            before=row["before"],
            after=row["after"],
        )
        for row in conn.execute(query).mappings()
    ]
