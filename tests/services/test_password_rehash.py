"""A password hashed with weaker argon2 parameters is upgraded at its next sign-in."""

from argon2 import PasswordHasher

from app.domain.model import Role, User
from app.services import accounts
from app.services.container import Services
from app.store.repositories import Users

WEAK = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


async def stored_hash(services: Services, login: str) -> str | None:
    found = await services.db.read(lambda conn: Users(conn).by_login(login))
    assert found is not None
    return found[1]


async def test_a_weaker_hash_is_replaced_by_current_parameters_on_sign_in(
    services: Services,
) -> None:
    old = WEAK.hash("s3cret-pass")
    user = User("u-old", "old-timer", "Old Timer", Role.USER)
    await services.db.write(lambda conn: Users(conn).add(user, old))
    assert accounts.needs_rehash(old)

    assert await accounts.login(services, "old-timer", "wrong") is None
    assert await stored_hash(services, "old-timer") == old  # a failed sign-in changes nothing

    assert await accounts.login(services, "old-timer", "s3cret-pass") is not None
    upgraded = await stored_hash(services, "old-timer")
    assert upgraded is not None and upgraded != old
    assert not accounts.needs_rehash(upgraded)
    assert await accounts.login(services, "old-timer", "s3cret-pass") is not None
    assert await stored_hash(services, "old-timer") == upgraded  # current: left as it is
