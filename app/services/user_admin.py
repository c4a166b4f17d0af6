"""What `powerpermit user create|list|disable|set-password|grant` does, checked first so
that bad input changes nothing.

Disabling a user marks it disabled (sign-in then fails like a wrong password; the password
hash is kept for `enable`), deletes every API token, page sessions included, and withdraws
the user (app/services/withdrawals.py): every running server process forgets its cached
tokens and refuses its access tokens within a second.
"""

import secrets

from sqlalchemy.engine import Connection

from app.domain.model import Role, User
from app.services.accounts import hash_password
from app.services.container import Services
from app.services.withdrawals import LONGEST_ACCESS_TOKEN, withdraw
from app.store import tables as t
from app.store import user_admin as store
from app.store.repositories import Sites, Users

# The command line says "driver"; the store and domain have always called that role "user".
ROLES = {"driver": Role.USER, "manager": Role.MANAGER, "admin": Role.ADMIN}


class UserAdminError(Exception):
    """Bad input for a user command; nothing was changed."""


class UnknownLogin(UserAdminError):
    def __init__(self, login: str) -> None:
        super().__init__(f"no user with login {login!r}")


class DuplicateLogin(UserAdminError):
    def __init__(self, login: str) -> None:
        super().__init__(f"a user with login {login!r} already exists")


class UnknownSite(UserAdminError):
    def __init__(self, site_id: str) -> None:
        super().__init__(f"no site {site_id!r}")


class BadPassword(UserAdminError):
    pass


def _check_password(password: str) -> str:
    if not password.strip():
        raise BadPassword("the password is empty")
    return password


async def create_user(services: Services, login: str, name: str, role: str, password: str) -> User:
    if not login.strip() or not name.strip():
        raise UserAdminError("login and name must not be empty")
    if role not in ROLES:
        raise UserAdminError(f"role must be one of {', '.join(ROLES)}")
    password_hash = hash_password(_check_password(password))  # outside the transaction
    user = User("u-" + secrets.token_hex(8), login, name, ROLES[role])

    def work(conn: Connection) -> None:
        if store.find_user_id(conn, login) is not None:
            raise DuplicateLogin(login)
        Users(conn).add(user, password_hash)

    await services.db.write(work)
    return user


async def list_users(services: Services) -> list[store.UserRow]:
    return await services.db.read(store.all_users)


async def _user_id(services: Services, login: str) -> str:
    user_id = await services.db.read(lambda conn: store.find_user_id(conn, login))
    if user_id is None:
        raise UnknownLogin(login)
    return user_id


async def disable_user(services: Services, login: str) -> int:
    """Returns how many tokens ended."""
    user_id = await _user_id(services, login)
    now = services.clock()

    def work(conn: Connection) -> int:
        store.set_disabled(conn, user_id, now)
        return store.delete_tokens(conn, user_id)

    ended = await services.db.write(work)
    await withdraw(services, "user", user_id, now + LONGEST_ACCESS_TOKEN)
    return ended


async def enable_user(services: Services, login: str) -> None:
    """Signs in again with the password it had; its old tokens stay ended."""
    user_id = await _user_id(services, login)
    await services.db.write(lambda conn: store.set_disabled(conn, user_id, None))


async def set_password(services: Services, login: str, password: str) -> None:
    password_hash = hash_password(_check_password(password))
    user_id = await _user_id(services, login)
    await services.db.write(lambda conn: store.set_password_hash(conn, user_id, password_hash))


async def grant_site(services: Services, login: str, site_id: str) -> None:
    """Make the user a manager of the site (a driver becomes a manager)."""
    user_id = await _user_id(services, login)

    def work(conn: Connection) -> None:
        if not store.site_exists(conn, site_id):
            raise UnknownSite(site_id)
        user = Users(conn).get(user_id)
        assert user is not None
        if user.role is Role.USER:
            store.set_role(conn, user_id, Role.MANAGER.value)
        Sites(conn).add_person(site_id, user_id, t.site_managers)

    await services.db.write(work)
