"""The audit trail: one row per state change, written in the change's own transaction."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.store import tables as t
from app.store.booking import insert_audit


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
    ) -> None:
        insert_audit(
            self.conn,
            at=at,
            actor_id=actor_id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=before,
            after=after,
        )

    def for_entity(self, entity: str, entity_id: str) -> list[dict[str, Any]]:
        table = t.audit_log
        query = (
            sa.select(table)
            .where(table.c.entity == entity, table.c.entity_id == entity_id)
            .order_by(table.c.id)
        )
        return [dict(row) for row in self.conn.execute(query).mappings()]
