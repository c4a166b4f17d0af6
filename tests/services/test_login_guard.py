"""Failed sign-ins back off and lock, per login and per address, as app/services/login_guard.py
lays out; time moves on the services' clock."""

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from app.domain.model import Role, User
from app.services import accounts
from app.services.container import Services
from app.services.errors import RateLimited
from app.services.login_guard import POLICY
from app.store import tables as t
from app.store.repositories import Users
from tests.conftest import Clock

# A cheap hash keeps the many password checks here fast; it is checked all the same.
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
RIGHT = "right-pw"


@pytest.fixture
async def ada(services: Services) -> str:
    user = User("u-ada", "ada", "Ada", Role.USER)
    await services.db.write(lambda conn: Users(conn).add(user, CHEAP.hash(RIGHT)))
    return "ada"


async def outcome(services: Services, login: str, password: str, address: str | None) -> object:
    """'signed in', 'failed', or ('refused', retry after s)."""
    try:
        signed_in = await accounts.login(services, login, password, address)
    except RateLimited as refused:
        return ("refused", refused.retry_after)
    return "failed" if signed_in is None else "signed in"


async def fail_until_refused(
    services: Services, login: str, addresses: list[str | None]
) -> tuple[int, object]:
    """Wrong passwords until one is refused: how many failed first, and the refusal."""
    for failed in range(100):
        result = await outcome(services, login, "wrong", addresses[failed % len(addresses)])
        if result != "failed":
            return failed, result
    raise AssertionError("never refused")


async def test_a_login_backs_off_doubling_then_locks_for_fifteen_minutes(
    services: Services, clock: Clock, ada: str
) -> None:
    """From a new address each time: the login's own key does it."""
    addresses: list[str | None] = [f"10.0.0.{n}" for n in range(1, 200)]
    failed, refused = await fail_until_refused(services, ada, addresses)
    assert (failed, refused) == (5, ("refused", 1))
    # In its wait even the right password is refused, unchecked.
    assert await outcome(services, ada, RIGHT, "10.1.0.1") == ("refused", 1)

    for failures in range(5, 20):
        wait = min(2 ** (failures - 5), 60)
        clock.advance(timedelta(seconds=wait - 1))
        if wait > 1:
            assert await outcome(services, ada, "wrong", "10.1.0.2") == ("refused", 1)
        clock.advance(timedelta(seconds=1))
        assert await outcome(services, ada, "wrong", f"10.2.0.{failures}") == "failed"
        wait_after = 900 if failures + 1 >= 20 else min(2 ** (failures + 1 - 5), 60)
        assert await outcome(services, ada, "wrong", "10.1.0.3") == ("refused", wait_after)

    clock.advance(timedelta(minutes=14, seconds=59))
    assert await outcome(services, ada, RIGHT, "10.1.0.4") == ("refused", 1)  # locked
    clock.advance(timedelta(seconds=1))
    assert await outcome(services, ada, RIGHT, "10.1.0.5") == "signed in"


async def test_the_policy_is_the_one_documented() -> None:
    steps = [POLICY.wait_ms(n) // 1000 for n in range(0, 22)]
    assert steps[:5] == [0] * 5
    assert steps[5:12] == [1, 2, 4, 8, 16, 32, 60]
    assert steps[19] == 60 and steps[20:] == [900, 900]


async def test_an_unknown_login_is_answered_like_a_known_one_at_every_stage(
    services: Services, clock: Clock, ada: str
) -> None:
    known, unknown = [], []
    for step in range(9):
        known.append(await outcome(services, ada, "wrong", "10.0.0.1"))
        unknown.append(await outcome(services, "nobody", "wrong", "10.0.0.2"))
        if step % 3 == 2:
            clock.advance(timedelta(seconds=2))
    assert known == unknown
    assert known == ["failed"] * 5 + [("refused", 1), "failed", ("refused", 2), ("refused", 2)]


async def test_one_address_spraying_many_logins_is_held_back(
    services: Services, clock: Clock, ada: str
) -> None:
    logins = [f"guess-{n}" for n in range(50)]
    failed = 0
    for login in logins:
        if await outcome(services, login, "wrong", "10.6.6.6") != "failed":
            break
        failed += 1
    assert failed == 5
    assert await outcome(services, "guess-49", "wrong", "10.6.6.6") == ("refused", 1)
    # Another address, and the sprayed logins themselves, are not held back.
    assert await outcome(services, "guess-0", "wrong", "10.7.7.7") == "failed"
    assert await outcome(services, ada, RIGHT, "10.7.7.7") == "signed in"


async def test_a_success_clears_the_login_but_not_the_address(
    services: Services, clock: Clock, ada: str
) -> None:
    for _ in range(4):
        assert await outcome(services, ada, "wrong", "10.0.0.1") == "failed"
    assert await outcome(services, ada, RIGHT, "10.0.0.1") == "signed in"
    for n in range(5):  # the login's five free failures again, from fresh addresses
        assert await outcome(services, ada, "wrong", f"10.3.0.{n}") == "failed"
    # The address had 4 failures and keeps them: one more free, then it waits.
    assert await outcome(services, "someone", "wrong", "10.0.0.1") == "failed"
    assert await outcome(services, "someone-else", "wrong", "10.0.0.1") == ("refused", 1)


async def test_failures_are_forgotten_an_hour_after_the_last(
    services: Services, clock: Clock, ada: str
) -> None:
    failed, _ = await fail_until_refused(services, ada, ["10.0.0.1"])
    assert failed == 5
    clock.advance(timedelta(hours=1))
    failed, _ = await fail_until_refused(services, ada, ["10.0.0.1"])
    assert failed == 5


async def test_guesses_sent_at_once_do_not_all_reach_a_password_check(
    services: Services, ada: str
) -> None:
    results = await asyncio.gather(
        *(outcome(services, ada, "wrong", f"10.4.0.{n}") for n in range(20))
    )
    assert results.count("failed") == 5
    assert all(result[0] == "refused" for result in results if result != "failed")
    assert await failures_stored(services) == {"failed": 5}


async def test_the_back_off_holds_across_server_processes(
    services: Services, second_process: Services, clock: Clock, ada: str
) -> None:
    failed, _ = await fail_until_refused(services, ada, ["10.0.0.1"])
    assert failed == 5
    before = await failures_stored(services)
    # A process that never saw these failures refuses too, from the table, and writes nothing.
    assert await outcome(second_process, ada, RIGHT, "10.9.9.9") == ("refused", 1)
    assert await outcome(second_process, "other", "wrong", "10.0.0.1") == ("refused", 1)
    assert await failures_stored(services) == before
    clock.advance(timedelta(seconds=1))
    assert await outcome(second_process, ada, "wrong", "10.9.9.9") == "failed"
    assert await outcome(services, ada, "wrong", "10.0.0.8") == ("refused", 2)  # six now


async def failures_stored(services: Services) -> dict[str, int]:
    """The largest count per kind of key."""
    query = sa.select(t.login_failures.c.key, t.login_failures.c.failures)
    rows = await services.db.read(lambda conn: list(conn.execute(query)))
    return {"failed": max((failures for _, failures in rows), default=0)}


async def test_an_ipv6_subscriber_cannot_dodge_by_changing_address_within_its_64(
    services: Services, ada: str
) -> None:
    for n in range(5):
        assert await outcome(services, f"guess-{n}", "wrong", f"2001:db8:1:2::{n + 1}") == "failed"
    assert await outcome(services, "guess-9", "wrong", "2001:db8:1:2:ffff::9") == ("refused", 1)
    assert await outcome(services, "guess-9", "wrong", "2001:db8:1:3::1") == "failed"
