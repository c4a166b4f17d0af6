"""Usage requests: reading and saving them, and the slot-holding queries the rules need."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from app.domain.model import SLOT_HOLDING, Reason, Slot, Status, UsageRequest
from app.store import tables as t
from app.store.booking import insert_request, taken_slots
from app.store.errors import SlotOverlap

HOLDING = [s.value for s in SLOT_HOLDING]


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
    )


def request_values(request: UsageRequest) -> dict[str, Any]:
    return {
        "user_id": request.user_id,
        "device_id": request.device_id,
        "site_id": request.site_id,
        "starts_at": request.slot.starts_at,
        "ends_at": request.slot.ends_at,
        "status": request.status.value,
        "reasons": [{"code": r.code, "message": r.message} for r in request.reasons],
        "created_at": request.created_at,
        "decided_by": request.decided_by,
        "note": request.note,
        "energy_wh": request.energy_wh,
    }


class UsageRequests:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, request: UsageRequest) -> str:
        return insert_request(self.conn, request)

    def save(self, request: UsageRequest) -> None:
        table = t.usage_requests
        try:
            self.conn.execute(
                table.update().where(table.c.id == int(request.id)).values(request_values(request))
            )
        except IntegrityError as err:
            raise SlotOverlap(request.device_id) from err

    def get(self, request_id: str) -> UsageRequest | None:
        if not request_id.isdigit():
            return None
        table = t.usage_requests
        query = (
            sa.select(table, t.permits.c.id.label("permit_id"))
            .outerjoin(t.permits, t.permits.c.request_id == table.c.id)
            .where(table.c.id == int(request_id))
        )
        row = self.conn.execute(query).mappings().first()
        return request_from_row(row, row["permit_id"]) if row else None

    def holding_slots(self, device_id: str, slot: Slot) -> list[Slot]:
        return taken_slots(self.conn, device_id, slot)

    def overdue(self, now: datetime) -> list[UsageRequest]:
        """Slot-holding requests whose window has passed: they expire."""
        table = t.usage_requests
        query = sa.select(table).where(table.c.status.in_(HOLDING), table.c.ends_at <= now)
        return [request_from_row(row) for row in self.conn.execute(query).mappings()]
