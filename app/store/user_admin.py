"""The rows `powerpermit user ...` changes: users, their API tokens, the sites they manage."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.store import tables as t


@dataclass(frozen=True)
class UserRow:
    id: str
    login: str
    display_name: str
    role: str
    disabled: bool  # by `powerpermit user disable`, until `enable`
    manages: tuple[str, ...]


def find_user_id(conn: Connection, login: str) -> str | None:
    return conn.execute(sa.select(t.users.c.id).where(t.users.c.login == login)).scalar()


def site_exists(conn: Connection, site_id: str) -> bool:
    return conn.execute(sa.select(t.sites.c.id).where(t.sites.c.id == site_id)).first() is not None


def set_password_hash(conn: Connection, user_id: str, password_hash: str | None) -> None:
    conn.execute(
        t.users.update().where(t.users.c.id == user_id).values(password_hash=password_hash)
    )


def set_disabled(conn: Connection, user_id: str, at: datetime | None) -> None:
    """Disabled from `at` on; None enables again."""
    conn.execute(t.users.update().where(t.users.c.id == user_id).values(disabled_at=at))


def set_role(conn: Connection, user_id: str, role: str) -> None:
    conn.execute(t.users.update().where(t.users.c.id == user_id).values(role=role))


def delete_tokens(conn: Connection, user_id: str) -> int:
    """Every API token (and so every web session) of the user; returns how many."""
    deleted = conn.execute(t.api_tokens.delete().where(t.api_tokens.c.user_id == user_id))
    return deleted.rowcount


def all_users(conn: Connection) -> list[UserRow]:
    managed: dict[str, list[str]] = {}
    query = sa.select(t.site_managers.c.user_id, t.site_managers.c.site_id).order_by(
        t.site_managers.c.site_id
    )
    for user_id, site_id in conn.execute(query):
        managed.setdefault(user_id, []).append(site_id)
    rows = conn.execute(sa.select(t.users).order_by(t.users.c.login)).mappings()
    return [
        UserRow(
            r["id"],
            r["login"],
            r["display_name"],
            r["role"],
            r["disabled_at"] is not None,
            tuple(managed.get(r["id"], ())),
        )
        for r in rows
    ]
