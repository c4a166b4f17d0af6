"""Issued permits and the receipts devices sent back for them."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from app.domain.model import Permit
from app.store import tables as t
from app.store.booking import insert_permit, update_permit


def permit_from_row(row: RowMapping) -> Permit:
    return Permit(
        id=row["id"],
        request_id=str(row["request_id"]),
        device_id=row["device_id"],
        user_id=row["user_id"],
        not_before=row["not_before"],
        expires_at=row["expires_at"],
        issued_at=row["issued_at"],
        max_energy_wh=row["max_energy_wh"],
        max_power_w=row["max_power_w"],
        token=row["token"],
        revoked_at=row["revoked_at"],
        revoked_in_sequence=row["revoked_in_sequence"],
        revocation_confirmed_at=row["revocation_confirmed_at"],
        kid=row["kid"],
    )


class Permits:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, permit: Permit) -> None:
        insert_permit(self.conn, permit)

    def get(self, permit_id: str) -> Permit | None:
        query = sa.select(t.permits).where(t.permits.c.id == permit_id)
        row = self.conn.execute(query).mappings().first()
        return permit_from_row(row) if row else None

    def many(self, permit_ids: list[str]) -> dict[str, Permit]:
        query = sa.select(t.permits).where(t.permits.c.id.in_(list(set(permit_ids))))
        return {row["id"]: permit_from_row(row) for row in self.conn.execute(query).mappings()}

    def save(self, permit: Permit) -> None:
        update_permit(self.conn, permit)

    def revoked_ids(self, device_id: str, since: datetime) -> list[str]:
        """Revoked permits of a device whose window has not yet closed and whose revocation
        the device has not confirmed (it keeps every id it was sent)."""
        table = t.permits
        query = sa.select(table.c.id).where(
            table.c.device_id == device_id,
            table.c.revoked_at.is_not(None),
            table.c.revocation_confirmed_at.is_(None),
            table.c.expires_at > since,
        )
        return sorted(self.conn.execute(query).scalars())

    def last_expiry(self, kid: str, *, with_unrecorded: bool = False) -> datetime | None:
        """When the last permit `kid` signed expires (None: it signed none). With
        `with_unrecorded`, permits from before kids were recorded count too (the first key's).
        """
        table = t.permits
        signed_by = table.c.kid == kid
        if with_unrecorded:
            signed_by = sa.or_(signed_by, table.c.kid.is_(None))
        last: datetime | None = self.conn.execute(
            sa.select(sa.func.max(table.c.expires_at)).where(signed_by)
        ).scalar()
        return last

    def unconfirmed_through(self, device_id: str, sequence: int) -> list[Permit]:
        """Revoked permits of a device first named by list `sequence` or an earlier one,
        whose revocation the device has not confirmed yet."""
        table = t.permits
        query = sa.select(table).where(
            table.c.device_id == device_id,
            table.c.revoked_in_sequence <= sequence,
            table.c.revocation_confirmed_at.is_(None),
        )
        return [permit_from_row(row) for row in self.conn.execute(query).mappings()]


class Receipts:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, values: dict[str, object]) -> bool:
        """Store a receipt; False when one with the same digest is stored already (a duplicate)."""
        savepoint = self.conn.begin_nested()
        try:
            self.conn.execute(t.receipts.insert().values(values))
        except IntegrityError:
            savepoint.rollback()
            return False
        savepoint.commit()
        return True

    def energy_for_permit(self, permit_id: str) -> float:
        query = sa.select(sa.func.coalesce(sa.func.sum(t.receipts.c.energy_wh), 0.0)).where(
            t.receipts.c.permit_id == permit_id
        )
        return float(self.conn.execute(query).scalar_one())
