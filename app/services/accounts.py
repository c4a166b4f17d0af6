"""Who is asking: bearer tokens and passwords.

Tokens are random and stored only as their SHA-256; passwords as argon2 hashes.
"""

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy.engine import Connection

from app.domain.model import User
from app.services.container import Services
from app.store import tables as t
from app.store.repositories import Users

_hasher = PasswordHasher()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "pp_" + secrets.token_urlsafe(24)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def authenticate(services: Services, token: str | None) -> User | None:
    if not token:
        return None
    token_hash = hash_token(token)
    user = services.tokens.get(token_hash)
    if user is None:
        user = await services.db.read(lambda conn: Users(conn).by_token_hash(token_hash))
        if user is not None:
            services.tokens.put(token_hash, user)
    return user


def token_from_header(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


async def login(services: Services, login_name: str, password: str) -> tuple[User, str] | None:
    """Check a password and hand out a fresh bearer token."""
    now = services.clock()

    def work(conn: Connection) -> tuple[User, str] | None:
        found = Users(conn).by_login(login_name)
        if found is None or found[1] is None:
            return None
        user, password_hash = found
        try:
            _hasher.verify(password_hash, password)
        except VerificationError:
            return None
        token = new_token()
        store_token(conn, user.id, token, "login", now)
        return user, token

    return await services.db.write(work)


def store_token(conn: Connection, user_id: str, token: str, name: str, now: datetime) -> None:
    conn.execute(
        t.api_tokens.insert().values(
            token_hash=hash_token(token), user_id=user_id, name=name, created_at=now
        )
    )
