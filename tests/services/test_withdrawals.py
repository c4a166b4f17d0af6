"""Withdrawn access ends in every server process: two Services on one database (an SQLite
file, and PostgreSQL) stand for two `powerpermit serve` processes."""

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from app.domain.model import Role, User
from app.services.container import Services, build_services
from app.services.withdrawals import LONGEST_ACCESS_TOKEN, withdraw
from app.settings import Settings
from app.store import tables as t
from app.store import withdrawals as store
from tests.conftest import Clock

WITHIN_S = 1.0  # how soon another process must refuse what one process withdrew


async def until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s"
        await asyncio.sleep(0.02)


async def test_a_withdrawal_in_one_process_is_refused_in_another_within_a_second(
    services: Services, second_process: Services, clock: Clock
) -> None:
    issued = clock() - timedelta(minutes=1)
    ada = User("u-ada", "ada", "Ada", Role.USER)
    second_process.tokens.put("hash-of-adas-token", ada)  # B has her opaque token cached
    async with services.running(), second_process.running():
        refuses = second_process.withdrawals.refuses
        assert not refuses("u-ada", None, None, issued)
        assert not refuses("u-bo", "client-1", "jti-1", issued)

        await withdraw(services, "user", "u-ada", clock() + LONGEST_ACCESS_TOKEN)
        await withdraw(services, "client", "client-1", clock() + LONGEST_ACCESS_TOKEN)
        await withdraw(services, "token", "jti-1", clock() + timedelta(minutes=5))
        assert services.withdrawals.refuses("u-ada", None, None, issued)  # here: at once

        await until(lambda: refuses("u-bo", None, "jti-1", issued), WITHIN_S)
        assert refuses("u-ada", None, None, issued)
        assert refuses("u-bo", "client-1", None, issued)
        assert second_process.tokens.get("hash-of-adas-token") is None
        assert not refuses("u-bo", "client-2", "jti-2", issued)  # others are untouched


async def test_tokens_issued_after_the_withdrawal_are_not_refused(
    services: Services, clock: Clock
) -> None:
    """A user enabled again signs in afresh; only what was issued before stays refused."""
    before = clock()
    await withdraw(services, "user", "u-ada", clock() + LONGEST_ACCESS_TOKEN)
    clock.advance(timedelta(seconds=5))
    assert services.withdrawals.refuses("u-ada", None, None, before)
    assert not services.withdrawals.refuses("u-ada", None, None, clock())


async def test_a_restarted_process_loads_the_live_withdrawals_before_its_first_request(
    services: Services, settings: Settings, clock: Clock
) -> None:
    issued = clock() - timedelta(minutes=1)
    await withdraw(services, "user", "u-ada", clock() + LONGEST_ACCESS_TOKEN)
    await withdraw(services, "token", "jti-1", clock() + timedelta(minutes=5))
    restarted = build_services(settings)
    restarted.clock = clock
    try:
        async with restarted.running():
            assert restarted.withdrawals.refuses("u-ada", None, None, issued)
            assert restarted.withdrawals.refuses("u-bo", None, "jti-1", issued)
    finally:
        await restarted.db.dispose()


async def test_expired_withdrawals_are_dropped_from_memory_and_pruned(
    services: Services, second_process: Services, settings: Settings, clock: Clock
) -> None:
    issued = clock() - timedelta(minutes=1)
    await withdraw(services, "token", "jti-short", clock() + timedelta(minutes=1))
    await withdraw(services, "token", "jti-long", clock() + timedelta(minutes=10))
    await second_process.withdrawals.poll(second_process.db, second_process.tokens, clock())
    assert second_process.withdrawals.refuses("u-bo", None, "jti-short", issued)

    clock.advance(timedelta(minutes=2))
    await second_process.withdrawals.poll(second_process.db, second_process.tokens, clock())
    assert not second_process.withdrawals.refuses("u-bo", None, "jti-short", issued)
    assert second_process.withdrawals.refuses("u-bo", None, "jti-long", issued)

    assert await services.db.write(lambda conn: store.prune(conn, clock())) == 1
    subjects = await services.db.read(
        lambda conn: set(conn.execute(sa.select(t.access_withdrawals.c.subject)).scalars())
    )
    assert subjects == {"jti-long"}


async def test_a_row_that_commits_after_a_newer_one_is_still_applied(
    services: Services, second_process: Services, clock: Clock
) -> None:
    """On PostgreSQL a transaction can take its seq, then commit after one that took the
    next: the poller asks again for the seq it missed."""
    issued, until = clock() - timedelta(minutes=1), clock() + timedelta(minutes=5)

    async def row(seq: int, jti: str) -> None:
        insert = t.access_withdrawals.insert().values(
            seq=seq, kind="token", subject=jti, at=clock(), until=until
        )
        await services.db.write(lambda conn: conn.execute(insert))

    await row(1, "jti-1")
    await row(3, "jti-3")  # seq 2 is taken, not yet committed
    await second_process.withdrawals.poll(second_process.db, second_process.tokens, clock())
    assert second_process.withdrawals.refuses("u-bo", None, "jti-3", issued)
    await row(2, "jti-2")
    await second_process.withdrawals.poll(second_process.db, second_process.tokens, clock())
    assert second_process.withdrawals.refuses("u-bo", None, "jti-2", issued)
