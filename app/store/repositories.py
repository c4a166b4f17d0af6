"""Repositories of users, sites and devices: rows in, domain objects out.

They work on a Connection inside a transaction opened by Database; they never commit.
"""

from collections.abc import Iterable, Sequence
from datetime import time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from app.domain.model import (
    Device,
    Policy,
    Role,
    Site,
    User,
)
from app.store import tables as t


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
        link_url=row["link_url"],
    )


def _time(text: str | None) -> time | None:
    return time.fromisoformat(text) if text else None


def _hh_mm(moment: time | None) -> str | None:
    return moment.strftime("%H:%M") if moment else None


# One mapping per table, entity -> row, beside the row -> entity one above: every write of
# the table goes through it. (usage_requests and permits: app/store/booking.py.)


def user_row(user: User, password_hash: str | None, language: str | None = None) -> dict[str, Any]:
    """The user's columns; the page language is a setting the user chooses later
    (app/store/preferences.py), None until then: the browser's language decides. A new
    user is enabled (`powerpermit user disable` sets disabled_at)."""
    return {
        "id": user.id,
        "login": user.login,
        "display_name": user.display_name,
        "role": user.role.value,
        "password_hash": password_hash,
        "language": language,
        "disabled_at": None,
    }


def site_row(site: Site) -> dict[str, Any]:
    """The site's own columns; its managers and members are rows of their own tables."""
    policy = site.policy
    return {
        "id": site.id,
        "name": site.name,
        "timezone": site.timezone,
        "max_duration_min": int(policy.max_duration.total_seconds() // 60),
        "auto_approve_min": int(policy.auto_approve_up_to.total_seconds() // 60),
        "horizon_days": policy.booking_horizon.days,
        "start_grace_s": int(policy.start_grace.total_seconds()),
        "max_open_requests": policy.max_open_requests,
        "opens_at": _hh_mm(policy.opens_at),
        "closes_at": _hh_mm(policy.closes_at),
    }


def device_row(device: Device) -> dict[str, Any]:
    """The device's own columns; its revocation sequence is the store's counter."""
    return {
        "id": device.id,
        "name": device.name,
        "site_id": device.site_id,
        "in_service": device.in_service,
        "max_power_w": device.max_power_w,
        "public_key": device.public_key,
        "link_url": device.link_url,
    }


class Users:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, user_id: str) -> User | None:
        row = self.conn.execute(sa.select(t.users).where(t.users.c.id == user_id)).mappings()
        found = row.first()
        return user_from_row(found) if found else None

    def many(self, user_ids: Iterable[str]) -> list[User]:
        query = sa.select(t.users).where(t.users.c.id.in_(list(set(user_ids))))
        return [user_from_row(row) for row in self.conn.execute(query).mappings()]

    def by_token_hash(self, token_hash: str) -> User | None:
        """The token's user, unless disabled."""
        query = (
            sa.select(t.users)
            .join(t.api_tokens)
            .where((t.api_tokens.c.token_hash == token_hash) & t.users.c.disabled_at.is_(None))
        )
        found = self.conn.execute(query).mappings().first()
        return user_from_row(found) if found else None

    def add(self, user: User, password_hash: str | None = None) -> None:
        self.conn.execute(t.users.insert().values(user_row(user, password_hash)))

    def by_login(self, login: str) -> tuple[User, str | None] | None:
        """The user and password hash to sign in with; a disabled user is not found."""
        query = sa.select(t.users).where(
            (t.users.c.login == login) & t.users.c.disabled_at.is_(None)
        )
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
        self.conn.execute(t.sites.insert().values(site_row(site)))
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

    def managers_of(self, site_id: str) -> frozenset[str]:
        query = sa.select(t.site_managers.c.user_id).where(t.site_managers.c.site_id == site_id)
        return frozenset(self.conn.execute(query).scalars())

    def of_person(self, user_id: str) -> list[str]:
        """The sites a user belongs to, as a manager or as a member."""
        managed = sa.select(t.site_managers.c.site_id).where(t.site_managers.c.user_id == user_id)
        member = sa.select(t.site_members.c.site_id).where(t.site_members.c.user_id == user_id)
        return sorted(self.conn.execute(sa.union(managed, member)).scalars())

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

    def visible_to(self, site_ids: Sequence[str]) -> list[Device]:
        query = sa.select(t.devices).where(t.devices.c.site_id.in_(site_ids))
        query = query.order_by(t.devices.c.id)
        return [device_from_row(row) for row in self.conn.execute(query).mappings()]

    def add(self, device: Device) -> None:
        self.conn.execute(t.devices.insert().values(device_row(device)))

    def set_public_key(self, device_id: str, public_key: bytes) -> None:
        self.conn.execute(
            t.devices.update().where(t.devices.c.id == device_id).values(public_key=public_key)
        )

    def set_link_url(self, device_id: str, link_url: str | None) -> None:
        self.conn.execute(
            t.devices.update().where(t.devices.c.id == device_id).values(link_url=link_url)
        )

    def edit(self, device_id: str, changes: dict[str, Any]) -> None:
        """Set some of name, link_url, in_service, max_power_w (already validated)."""
        self.conn.execute(t.devices.update().where(t.devices.c.id == device_id).values(changes))

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
