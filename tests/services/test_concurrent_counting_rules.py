"""Counting rules hold under concurrency, on both engines and across processes.

Twelve asks of one driver for twelve separate slots arrive at once, split between two
server "processes" (two Services, each with its own engine and pool, on one database).
The site allows 3 open requests: exactly 3 may be held. Before the asker's row was locked
in the transaction, PostgreSQL (read committed) let each ask count the others' uncommitted
rows as absent and held 11 or 12.
"""

import asyncio
from datetime import timedelta
from typing import Any

from app.services import usage
from app.services.container import Services
from app.store.repositories import Users
from tests.conftest import Clock

ASKS = 12
LIMIT = 3  # the demo site's max_open_requests


async def test_twelve_concurrent_asks_of_one_driver_leave_exactly_the_limit_held(
    services: Services, second_process: Services, demo: dict[str, Any], clock: Clock
) -> None:
    driver = await services.db.read(lambda conn: Users(conn).get("u1"))
    assert driver is not None
    starts = [clock.now + timedelta(hours=1 + i) for i in range(ASKS)]
    asked = await asyncio.gather(
        *(
            usage.request_usage(
                (services, second_process)[i % 2], driver, "ch-1", start, timedelta(minutes=30)
            )
            for i, start in enumerate(starts)
        )
    )

    held = [a for a in asked if a.request is not None]
    denied = [a for a in asked if a.request is None]
    assert len(held) == LIMIT, [a.decision for a in asked]
    for refused in denied:
        assert [r.code for r in refused.decision.reasons] == ["too_many_open_requests"]


async def test_concurrent_collects_of_one_permit_issue_it_once(
    services: Services, second_process: Services, demo: dict[str, Any], clock: Clock
) -> None:
    """The permit is issued under the request's row lock: every caller gets the same one."""
    driver = await services.db.read(lambda conn: Users(conn).get("u1"))
    assert driver is not None
    far = clock.now + timedelta(days=3)
    asked = await usage.request_usage(services, driver, "ch-1", far, timedelta(hours=1))
    assert asked.request is not None and asked.permit is None
    clock.advance(timedelta(days=2, hours=1))  # now inside the lead

    collected = await asyncio.gather(
        *(
            usage.collect_permit((services, second_process)[i % 2], driver, asked.request.id)
            for i in range(8)
        )
    )
    assert len({c.permit.id for c in collected}) == 1
