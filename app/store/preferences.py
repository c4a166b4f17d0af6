"""A user's own settings, kept on the user's row."""

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.store import tables as t


def language_of(conn: Connection, user_id: str) -> str | None:
    query = sa.select(t.users.c.language).where(t.users.c.id == user_id)
    language: str | None = conn.execute(query).scalar_one_or_none()
    return language


def save_language(conn: Connection, user_id: str, language: str | None) -> None:
    conn.execute(sa.update(t.users).where(t.users.c.id == user_id).values(language=language))
