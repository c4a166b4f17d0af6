"""OAuth2 rows: clients, one-shot authorization codes, rotating refresh tokens.

Secrets, codes and refresh tokens arrive here already hashed (SHA-256): nothing in these
tables lets anyone act as a client or a person.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.domain.model import User
from app.store import tables as t
from app.store.repositories import user_from_row

_clients = t.oauth_clients
_codes = t.oauth_authorization_codes
_refresh = t.oauth_refresh_tokens


@dataclass(frozen=True)
class ClientRow:
    client_id: str
    secret_hash: str | None  # None: a public client (PKCE, no secret)
    name: str
    site_id: str
    scopes: str
    redirect_uris: tuple[str, ...]
    service_user_id: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class CodeRow:
    client_id: str
    user_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    expires_at: datetime


@dataclass(frozen=True)
class RefreshRow:
    token_hash: str
    family_id: str
    client_id: str
    user_id: str
    scope: str
    issued_at: datetime
    expires_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None


def _client(row: sa.RowMapping) -> ClientRow:
    return ClientRow(
        row["client_id"],
        row["secret_hash"],
        row["name"],
        row["site_id"],
        row["scopes"],
        tuple(row["redirect_uris"] or ()),
        row["service_user_id"],
        row["created_at"],
        row["revoked_at"],
    )


def add_client(conn: Connection, client: ClientRow) -> None:
    conn.execute(
        _clients.insert().values(
            client_id=client.client_id,
            secret_hash=client.secret_hash,
            name=client.name,
            site_id=client.site_id,
            scopes=client.scopes,
            redirect_uris=list(client.redirect_uris),
            service_user_id=client.service_user_id,
            created_at=client.created_at,
            revoked_at=client.revoked_at,
        )
    )


def client(conn: Connection, client_id: str) -> ClientRow | None:
    found = conn.execute(sa.select(_clients).where(_clients.c.client_id == client_id))
    row = found.mappings().first()
    return _client(row) if row else None


def clients(conn: Connection) -> list[ClientRow]:
    query = sa.select(_clients).order_by(_clients.c.created_at, _clients.c.client_id)
    return [_client(row) for row in conn.execute(query).mappings()]


def name_taken(conn: Connection, site_id: str, name: str) -> bool:
    """A live client of that name on that site already exists."""
    where = (_clients.c.site_id == site_id) & (_clients.c.name == name)
    where &= _clients.c.revoked_at.is_(None)
    return conn.execute(sa.select(_clients.c.client_id).where(where)).first() is not None


def revoke_client(conn: Connection, client_id: str, now: datetime) -> int:
    """Marks the client revoked and revokes every refresh token it holds; returns how many."""
    conn.execute(
        _clients.update()
        .where((_clients.c.client_id == client_id) & _clients.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    ended = conn.execute(
        _refresh.update()
        .where((_refresh.c.client_id == client_id) & _refresh.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(ended.rowcount or 0)


def add_code(conn: Connection, code_hash: str, code: CodeRow) -> None:
    conn.execute(
        _codes.insert().values(
            code_hash=code_hash,
            client_id=code.client_id,
            user_id=code.user_id,
            redirect_uri=code.redirect_uri,
            scope=code.scope,
            code_challenge=code.code_challenge,
            code_challenge_method=code.code_challenge_method,
            expires_at=code.expires_at,
        )
    )


def take_code(conn: Connection, code_hash: str, client_id: str, now: datetime) -> CodeRow | None:
    """The code, consumed: a second exchange (or a concurrent one) finds nothing. A code of
    another client or past its expiry is consumed too, and not returned."""
    row = conn.execute(sa.select(_codes).where(_codes.c.code_hash == code_hash)).mappings().first()
    if row is None:
        return None
    deleted = conn.execute(_codes.delete().where(_codes.c.code_hash == code_hash))
    if deleted.rowcount != 1 or row["client_id"] != client_id or row["expires_at"] <= now:
        return None
    return CodeRow(
        row["client_id"],
        row["user_id"],
        row["redirect_uri"],
        row["scope"],
        row["code_challenge"],
        row["code_challenge_method"],
        row["expires_at"],
    )


def prune_codes(conn: Connection, now: datetime) -> None:
    conn.execute(_codes.delete().where(_codes.c.expires_at <= now))


def add_refresh(conn: Connection, token: RefreshRow) -> None:
    conn.execute(
        _refresh.insert().values(
            token_hash=token.token_hash,
            family_id=token.family_id,
            client_id=token.client_id,
            user_id=token.user_id,
            scope=token.scope,
            issued_at=token.issued_at,
            expires_at=token.expires_at,
            rotated_at=token.rotated_at,
            revoked_at=token.revoked_at,
        )
    )


def refresh(conn: Connection, token_hash: str) -> RefreshRow | None:
    query = sa.select(_refresh).where(_refresh.c.token_hash == token_hash)
    row = conn.execute(query).mappings().first()
    return RefreshRow(**row) if row else None


def rotate(conn: Connection, token_hash: str, now: datetime) -> bool:
    """Marks the token used; False if it already was (or was revoked) meanwhile."""
    done = conn.execute(
        _refresh.update()
        .where(
            (_refresh.c.token_hash == token_hash)
            & _refresh.c.rotated_at.is_(None)
            & _refresh.c.revoked_at.is_(None)
        )
        .values(rotated_at=now)
    )
    return done.rowcount == 1


def revoke_family(conn: Connection, family_id: str, now: datetime) -> None:
    conn.execute(
        _refresh.update()
        .where((_refresh.c.family_id == family_id) & _refresh.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def active_user(conn: Connection, user_id: str) -> User | None:
    """The user an access token names, unless removed or disabled."""
    where = (t.users.c.id == user_id) & t.users.c.disabled_at.is_(None)
    row = conn.execute(sa.select(t.users).where(where)).mappings().first()
    return user_from_row(row) if row else None
