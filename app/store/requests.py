"""Usage requests: reading and saving them, and the slot-holding queries the rules need."""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from app.domain.model import Reason, Slot, Status, UsageRequest
from app.store import tables as t
from app.store.booking import insert_request, taken_slots, update_request


def request_from_row(row: RowMapping, permit_id: str | None = None) -> UsageRequest:
    return UsageRequest(
        id=str(row["id"]),
        user_id=row["user_id"],
        device_id=row["device_id"],
        site_id=row["site_id"],
        slot=Slot(row["starts_at"], row["ends_at"]),
        status=Status(row["status"]),
        created_at=row["created_at"],
        reasons=tuple(Reason(r["code"], r["message"]) for r in row["reasons"]),
        energy_wh=row["energy_wh"],
        decided_by=row["decided_by"],
        note=row["note"],
        permit_id=permit_id,
        revocation_pending=bool(row["revocation_pending"]),
    )


class UsageRequests:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, request: UsageRequest) -> str:
        return insert_request(self.conn, request)

    def save(self, request: UsageRequest) -> None:
        update_request(self.conn, request)

    def get(self, request_id: str, *, for_update: bool = False) -> UsageRequest | None:
        """The request with its permit id; `for_update` locks its row (PostgreSQL) so that
        changes of one request (collect, cancel, revoke, decide) take turns."""
        if not request_id.isdigit():
            return None
        table = t.usage_requests
        if for_update:
            # A statement of its own: on PostgreSQL the read below then starts after the
            # lock is ours and sees what its previous holder committed (a permit, too).
            lock = sa.select(table.c.id).where(table.c.id == int(request_id)).with_for_update()
            self.conn.execute(lock)
        query = (
            sa.select(table, t.permits.c.id.label("permit_id"))
            .outerjoin(t.permits, t.permits.c.request_id == table.c.id)
            .where(table.c.id == int(request_id))
        )
        row = self.conn.execute(query).mappings().first()
        return request_from_row(row, row["permit_id"]) if row else None

    def save_statuses(self, requests: Sequence[UsageRequest]) -> None:
        """Store only the status and slot hold of each, in one `executemany`: all the sweep
        changes. Saving every column rewrote each of the table's indexes per row on SQLite
        and cost a round trip per row on PostgreSQL."""
        if not requests:
            return
        table = t.usage_requests
        statement = (
            table.update()
            .where(table.c.id == sa.bindparam("request_id"))
            .values(status=sa.bindparam("new_status"), revocation_pending=sa.bindparam("held"))
        )
        rows = [
            {"request_id": int(r.id), "new_status": r.status.value, "held": r.revocation_pending}
            for r in requests
        ]
        self.conn.execute(statement, rows)

    def holding_slots(self, device_id: str, slot: Slot) -> list[Slot]:
        return taken_slots(self.conn, device_id, slot)

    def overdue(self, now: datetime, limit: int | None = None) -> list[UsageRequest]:
        """Slot-holding requests whose window has passed: they expire, or stop holding.
        Oldest first, at most `limit`, each row locked; rows another transaction holds
        (a driver cancelling, another sweeper) are skipped, to be seen on a later round.
        The partial index ix_usage_requests_holding_ends keeps this from reading the
        whole table."""
        table = t.usage_requests
        query = (
            sa.select(table)
            .where(t.holds_slot(table), table.c.ends_at <= now)
            .order_by(table.c.ends_at, table.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [request_from_row(row) for row in self.conn.execute(query).mappings()]

    def awaiting_permit(self, available_until: datetime, now: datetime, limit: int) -> list[str]:
        """Ids of approved requests without a permit whose window starts by
        `available_until` and has not ended, soonest first, at most `limit`."""
        table = t.usage_requests
        query = (
            sa.select(table.c.id)
            .outerjoin(t.permits, t.permits.c.request_id == table.c.id)
            .where(
                table.c.status == Status.APPROVED.value,
                t.permits.c.id.is_(None),
                table.c.starts_at <= available_until,
                table.c.ends_at > now,
            )
            .order_by(table.c.starts_at, table.c.id)
            .limit(limit)
        )
        return [str(request_id) for request_id in self.conn.execute(query).scalars()]
