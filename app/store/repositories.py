"""Repositories: translate between table rows and domain objects, one aggregate each.

They work on a Connection inside a transaction opened by Database; they never commit.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from app.domain.model import (
    SLOT_HOLDING,
    Device,
    Permit,
    Policy,
    Reason,
    Role,
    Site,
    Slot,
    Status,
    UsageRequest,
    User,
)
from app.store import tables as t
from app.store.booking import insert_request
from app.store.errors import SlotOverlap

HOLDING = [s.value for s in SLOT_HOLDING]


def user_from_row(row: RowMapping) -> User:
    return User(row["id"], row["login"], row["display_name"], Role(row["role"]))


def device_from_row(row: RowMapping) -> Device:
    return Device(
        id=row["id"],
        name=row["name"],
        site_id=row["site_id"],
        in_service=row["in_service"],
        max_power_w=row["max_power_w"],
        public_key=row["public_key"],
    )


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
    )


def _time(text: str | None) -> time | None:
    return time.fromisoformat(text) if text else None


class Users:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, user_id: str) -> User | None:
        row = self.conn.execute(sa.select(t.users).where(t.users.c.id == user_id)).mappings()
        found = row.first()
        return user_from_row(found) if found else None

    def by_token_hash(self, token_hash: str) -> User | None:
        query = sa.select(t.users).join(t.api_tokens).where(t.api_tokens.c.token_hash == token_hash)
        found = self.conn.execute(query).mappings().first()
        return user_from_row(found) if found else None

    def add(self, user: User, password_hash: str | None = None) -> None:
        self.conn.execute(
            t.users.insert().values(
                id=user.id,
                login=user.login,
                display_name=user.display_name,
                role=user.role.value,
                password_hash=password_hash,
            )
        )

    def by_login(self, login: str) -> tuple[User, str | None] | None:
        query = sa.select(t.users).where(t.users.c.login == login)
        found = self.conn.execute(query).mappings().first()
        return (user_from_row(found), found["password_hash"]) if found else None


class Sites:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, site_id: str) -> Site | None:
        found = self.conn.execute(sa.select(t.sites).where(t.sites.c.id == site_id)).mappings()
        row = found.first()
        return self._site(row) if row else None

    def add(self, site: Site) -> None:
        """A new site with its policy, managers and members."""
        policy = site.policy
        self.conn.execute(
            t.sites.insert().values(
                id=site.id,
                name=site.name,
                timezone=site.timezone,
                max_duration_min=int(policy.max_duration.total_seconds() // 60),
                auto_approve_min=int(policy.auto_approve_up_to.total_seconds() // 60),
                horizon_days=policy.booking_horizon.days,
                start_grace_s=int(policy.start_grace.total_seconds()),
                max_open_requests=policy.max_open_requests,
                opens_at=policy.opens_at.strftime("%H:%M") if policy.opens_at else None,
                closes_at=policy.closes_at.strftime("%H:%M") if policy.closes_at else None,
            )
        )
        for user_id in site.manager_ids:
            self.add_person(site.id, user_id, t.site_managers)
        for user_id in site.member_ids:
            self.add_person(site.id, user_id, t.site_members)

    def add_person(self, site_id: str, user_id: str, role_table: sa.Table) -> None:
        """Make a user a manager (site_managers) or a member (site_members), once."""
        where = (role_table.c.site_id == site_id) & (role_table.c.user_id == user_id)
        if self.conn.execute(sa.select(role_table).where(where)).first() is None:
            self.conn.execute(role_table.insert().values(site_id=site_id, user_id=user_id))

    def managed_by(self, user_id: str) -> list[str]:
        query = sa.select(t.site_managers.c.site_id).where(t.site_managers.c.user_id == user_id)
        return list(self.conn.execute(query).scalars())

    def _site(self, row: RowMapping) -> Site:
        managers = sa.select(t.site_managers.c.user_id).where(
            t.site_managers.c.site_id == row["id"]
        )
        members = sa.select(t.site_members.c.user_id).where(t.site_members.c.site_id == row["id"])
        policy = Policy(
            max_duration=timedelta(minutes=row["max_duration_min"]),
            auto_approve_up_to=timedelta(minutes=row["auto_approve_min"]),
            booking_horizon=timedelta(days=row["horizon_days"]),
            start_grace=timedelta(seconds=row["start_grace_s"]),
            max_open_requests=row["max_open_requests"],
            opens_at=_time(row["opens_at"]),
            closes_at=_time(row["closes_at"]),
        )
        return Site(
            id=row["id"],
            name=row["name"],
            timezone=row["timezone"],
            policy=policy,
            manager_ids=frozenset(self.conn.execute(managers).scalars()),
            member_ids=frozenset(self.conn.execute(members).scalars()),
        )


class Devices:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, device_id: str) -> Device | None:
        query = sa.select(t.devices).where(t.devices.c.id == device_id)
        found = self.conn.execute(query).mappings().first()
        return device_from_row(found) if found else None

    def many(self, device_ids: Iterable[str]) -> dict[str, Device]:
        query = sa.select(t.devices).where(t.devices.c.id.in_(list(set(device_ids))))
        return {row["id"]: device_from_row(row) for row in self.conn.execute(query).mappings()}

    def visible_to(self, site_ids: Sequence[str] | None) -> list[Device]:
        query = sa.select(t.devices).order_by(t.devices.c.id)
        if site_ids is not None:
            query = query.where(t.devices.c.site_id.in_(site_ids))
        return [device_from_row(row) for row in self.conn.execute(query).mappings()]

    def add(self, device: Device) -> None:
        try:
            self.conn.execute(
                t.devices.insert().values(
                    id=device.id,
                    name=device.name,
                    site_id=device.site_id,
                    in_service=device.in_service,
                    max_power_w=device.max_power_w,
                    public_key=device.public_key,
                )
            )
        except IntegrityError as err:
            raise KeyError(device.id) from err

    def set_public_key(self, device_id: str, public_key: bytes) -> None:
        self.conn.execute(
            t.devices.update().where(t.devices.c.id == device_id).values(public_key=public_key)
        )

    def next_revocation_sequence(self, device_id: str) -> int:
        column = t.devices.c.revocation_sequence
        query = (
            t.devices.update()
            .where(t.devices.c.id == device_id)
            .values(revocation_sequence=column + 1)
            .returning(column)
        )
        return int(self.conn.execute(query).scalar_one())

    def revocation_sequence(self, device_id: str) -> int:
        query = sa.select(t.devices.c.revocation_sequence).where(t.devices.c.id == device_id)
        return int(self.conn.execute(query).scalar_one())


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
        table = t.usage_requests
        query = sa.select(table.c.starts_at, table.c.ends_at).where(
            table.c.device_id == device_id,
            table.c.status.in_(HOLDING),
            table.c.starts_at < slot.ends_at,
            table.c.ends_at > slot.starts_at,
        )
        return [Slot(row.starts_at, row.ends_at) for row in self.conn.execute(query)]

    def open_count(self, user_id: str, now: datetime) -> int:
        table = t.usage_requests
        query = sa.select(sa.func.count()).where(
            table.c.user_id == user_id, table.c.status.in_(HOLDING), table.c.ends_at > now
        )
        return int(self.conn.execute(query).scalar_one())

    def overdue(self, now: datetime) -> list[UsageRequest]:
        """Slot-holding requests whose window has passed: they expire."""
        table = t.usage_requests
        query = sa.select(table).where(table.c.status.in_(HOLDING), table.c.ends_at <= now)
        return [request_from_row(row) for row in self.conn.execute(query).mappings()]
