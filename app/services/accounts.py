"""Who is asking: bearer tokens and passwords.

Tokens are random and stored only as their SHA-256; passwords as argon2 hashes.

Checking a password costs ~150 ms of one core (argon2, m=64 MiB, t=3). It runs in a
worker thread (argon2-cffi releases the GIL), outside any transaction, one at a time:
logins queue up behind each other rather than stall the event loop or take both cores.
"""

import asyncio
import functools
import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Connection

from app.domain.model import User
from app.services.container import Services
from app.store import tables as t
from app.store.repositories import Users

# The one place the password-hashing cost is set (argon2id, RFC 9106's low-memory profile:
# 64 MiB, 3 passes). Raise it here; each stored hash made with other parameters is
# replaced by one made with these at its owner's next successful sign-in.
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 65536
ARGON2_PARALLELISM = 4
_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
)
PASSWORD_CHECKS_AT_ONCE = 1  # of the machine's 2 cores, one stays with the event loop
_password_checks = ThreadPoolExecutor(PASSWORD_CHECKS_AT_ONCE, thread_name_prefix="password")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "pp_" + secrets.token_urlsafe(24)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def needs_rehash(password_hash: str) -> bool:
    """Made with other parameters than today's: replaced at the next successful sign-in."""
    return _hasher.check_needs_rehash(password_hash)


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


async def login(
    services: Services, login_name: str, password: str, address: str | None = None
) -> tuple[User, str] | None:
    """Check a password and hand out a fresh bearer token. Raises RateLimited, before any
    password is checked, while the login or the `address` (the client's) is backed off or
    locked after failed attempts (app/services/login_guard.py)."""
    async with services.login_guard.attempt(
        services.db, login_name, address, services.clock()
    ) as attempt:
        found = await services.db.read(lambda conn: Users(conn).by_login(login_name))
        user, password_hash = found if found is not None else (None, None)
        matches = await asyncio.get_running_loop().run_in_executor(
            _password_checks, _verify, password_hash, password
        )
        attempt.succeeded = user is not None and password_hash is not None and matches
    if user is None or password_hash is None or not attempt.succeeded:
        return None
    token, user_id, now = new_token(), user.id, services.clock()
    upgraded = None
    if needs_rehash(password_hash):  # the parameters changed since it was made
        upgraded = await asyncio.get_running_loop().run_in_executor(
            _password_checks, _hasher.hash, password
        )

    def work(conn: Connection) -> None:
        store_token(conn, user_id, token, "login", now)
        if upgraded is not None:
            # Only if the hash is still the one checked: a password set meanwhile wins.
            conn.execute(
                t.users.update()
                .where((t.users.c.id == user_id) & (t.users.c.password_hash == password_hash))
                .values(password_hash=upgraded)
            )

    await services.db.write(work)
    return user, token


def _verify(password_hash: str | None, password: str) -> bool:
    """In a worker thread. An unknown login (or one without a password) is checked against
    a dummy hash, so it takes as long as a real one and does not tell which logins exist."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """A hash with the same parameters as real ones, of a password nobody knows."""
    return _hasher.hash(secrets.token_urlsafe(16))


def store_token(conn: Connection, user_id: str, token: str, name: str, now: datetime) -> None:
    conn.execute(
        t.api_tokens.insert().values(
            token_hash=hash_token(token), user_id=user_id, name=name, created_at=now
        )
    )
