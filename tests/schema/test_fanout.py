"""Fan-out: one read per event however many subscribe, and still each person's own view.

In process, on SQLite and PostgreSQL: streams from `schema.subscribe` with each person's
context, requests made over GraphQL. "Nothing else arrived" is checked without a clock: a
last request everyone may see must be the very next thing each stream yields.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from strawberry.types import ExecutionResult

from app.domain.model import Role, User
from app.schema import schema
from app.schema.context import Context
from app.services import fanout
from app.services.container import Services
from app.store import tables as t
from app.store.repositories import Sites, Users
from tests.conftest import Clock, GraphQLClient
from tests.schema.foreign_site import FOREIGN_DRIVER_TOKEN, FOREIGN_MANAGER, add_foreign_site
from tests.schema.test_request_usage import ask

QUEUE = "subscription { approvalQueue { id status device { id name } } }"
UPDATED = "subscription ($id: ID!) { usageRequestUpdated(id: $id) { id status } }"
WAITS = 180  # minutes: over the 2 h automatic limit, so a manager must decide

MANAGER = User("m1", "manager", "Mia Manager", Role.MANAGER)
CO_MANAGER = User("m2", "m2", "Max Manager", Role.MANAGER)  # also manages the demo site
DRIVER_A = User("u1", "user", "Udo Driver", Role.USER)
DRIVER_B = User("u2", "user2", "Uma Driver", Role.USER)


@pytest.fixture
async def two_sites(services: Services, clock: Clock, demo: dict[str, Any]) -> None:
    """The demo site gets a second manager; site-9 has its own manager, driver, charger."""

    def work(conn: Any) -> None:
        Users(conn).add(User("m2", "m2", "Max Manager", Role.MANAGER))
        Sites(conn).add_person("site-1", "m2", t.site_managers)
        add_foreign_site(conn, clock.now)

    await services.db.write(work)


class Stream:
    """One subscriber: its stream, and the next result it is waiting for."""

    def __init__(self, stream: AsyncIterator[ExecutionResult]) -> None:
        self.stream = stream
        self.pending: asyncio.Task[ExecutionResult] | None = None

    async def next(self) -> ExecutionResult:
        if self.pending is None:
            self.pending = asyncio.ensure_future(anext(self.stream))
        try:
            return await asyncio.wait_for(asyncio.shield(self.pending), 10)
        finally:
            if self.pending.done():
                self.pending = None

    async def close(self) -> None:
        if self.pending is not None:
            self.pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await self.pending
        await self.stream.aclose()  # type: ignore[attr-defined]


async def subscribe(
    services: Services, user: User, query: str, variables: dict[str, Any] | None = None
) -> Stream:
    stream = await schema.subscribe(query, variables, Context(services, user))
    assert not isinstance(stream, ExecutionResult), stream
    return Stream(stream)


async def listening(services: Services, streams: list[Stream], topics: set[str]) -> None:
    """Start every stream and wait until the bus has them all on `topics`."""
    for stream in streams:
        stream.pending = asyncio.ensure_future(anext(stream.stream))
    for _ in range(500):
        if topics <= services.bus.topics():  # type: ignore[attr-defined]
            await asyncio.sleep(0.05)  # every stream, not only the first of a topic
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"not subscribed to {topics}")


async def queued_ids(stream: Stream, count: int) -> list[str]:
    results = [await stream.next() for _ in range(count)]
    assert all(not r.errors for r in results), results
    return [r.data["approvalQueue"]["id"] for r in results if r.data]


@pytest.mark.usefixtures("two_sites")
async def test_each_manager_gets_each_of_their_sites_requests_once_and_nothing_else(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services
) -> None:
    ours = [await subscribe(services, MANAGER, QUEUE) for _ in range(3)]
    ours.append(await subscribe(services, CO_MANAGER, QUEUE))
    theirs = [await subscribe(services, FOREIGN_MANAGER, QUEUE) for _ in range(2)]
    await listening(services, ours + theirs, {"site:site-1", "site:site-9"})
    reads_before = fanout.loads_of(services).reads

    start = clock.now + timedelta(days=2)
    burst = [
        await ask(gql, tokens["user"], start, WAITS, "ch-1"),
        await ask(gql, tokens["user2"], start, WAITS, "ch-2"),
        await ask(gql, FOREIGN_DRIVER_TOKEN, start, WAITS, "far-1"),
        await ask(gql, tokens["user"], start + timedelta(hours=5), WAITS, "ch-1"),
    ]
    assert [r["status"] for r in burst] == ["NEEDS_MANAGER"] * 4, burst
    here = [burst[0]["id"], burst[1]["id"], burst[3]["id"]]

    results = {}
    for stream in ours:
        assert await queued_ids(stream, 3) == here
    for stream in theirs:
        assert await queued_ids(stream, 1) == [burst[2]["id"]]

    # Nothing else is on its way: the next request of each site is the next thing each sees.
    later = start + timedelta(days=1)
    last_here = await ask(gql, tokens["user2"], later, WAITS, "ch-3")
    last_there = await ask(gql, FOREIGN_DRIVER_TOKEN, later, WAITS, "far-1")
    for stream in ours:
        result = await stream.next()
        assert result.data == {"approvalQueue": {**_queued(last_here), "device": _ch(3)}}
        results[id(stream)] = result
    for stream in theirs:
        assert (await queued_ids(stream, 1)) == [last_there["id"]]

    # One read per event, whatever the number of subscribers; the four managers' streams
    # of the same selection got one execution result.
    assert fanout.loads_of(services).reads - reads_before == 6
    first, *others = [results[id(s)] for s in ours]
    assert all(other.data is first.data for other in others)
    for stream in ours + theirs:
        await stream.close()


def _queued(request: dict[str, Any]) -> dict[str, Any]:
    return {"id": request["id"], "status": "NEEDS_MANAGER"}


def _ch(number: int) -> dict[str, str]:
    return {"id": f"ch-{number}", "name": f"Bay {number}"}


@pytest.mark.usefixtures("two_sites")
async def test_a_manager_removed_from_the_site_gets_nothing_more_until_added_again(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services
) -> None:
    staying = await subscribe(services, MANAGER, QUEUE)
    leaving = await subscribe(services, CO_MANAGER, QUEUE)
    await listening(services, [staying, leaving], {"site:site-1"})
    start = clock.now + timedelta(days=3)

    async def set_co_manager(manages: bool) -> None:
        def work(conn: Any) -> None:
            if manages:
                Sites(conn).add_person("site-1", "m2", t.site_managers)
            else:
                row = t.site_managers.c
                conn.execute(
                    sa.delete(t.site_managers).where(
                        (row.site_id == "site-1") & (row.user_id == "m2")
                    )
                )

        await services.db.write(work)

    await set_co_manager(False)
    while_away = await ask(gql, tokens["user"], start, WAITS, "ch-1")
    assert await queued_ids(staying, 1) == [while_away["id"]]

    await set_co_manager(True)
    back = await ask(gql, tokens["user"], start + timedelta(hours=5), WAITS, "ch-1")
    assert await queued_ids(staying, 1) == [back["id"]]
    assert await queued_ids(leaving, 1) == [back["id"]]  # not `while_away`: it never came
    await staying.close()
    await leaving.close()


@pytest.mark.usefixtures("two_sites")
async def test_drivers_see_only_their_own_requests_in_the_same_burst(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services
) -> None:
    start = clock.now + timedelta(days=4)
    mine = await ask(gql, tokens["user"], start, WAITS, "ch-1")
    hers = await ask(gql, tokens["user2"], start, WAITS, "ch-2")
    watch_mine = await subscribe(services, DRIVER_A, UPDATED, {"id": mine["id"]})
    watch_hers = await subscribe(services, DRIVER_B, UPDATED, {"id": hers["id"]})
    peek = await subscribe(services, DRIVER_B, UPDATED, {"id": mine["id"]})
    assert (await watch_mine.next()).data == {"usageRequestUpdated": _queued(mine)}
    assert (await watch_hers.next()).data == {"usageRequestUpdated": _queued(hers)}
    assert (await peek.next()).data == {"usageRequestUpdated": None}

    # The site's events reach anyone who listens on the site: the load is shared, the view
    # is not.
    async with services.bus.subscribe(["site:site-1"]) as events:
        for request in (mine, hers):
            cancel = "mutation ($id: ID!) { cancelUsageRequest(id: $id) { __typename } }"
            who = "user" if request is mine else "user2"
            assert "errors" not in await gql(cancel, {"id": request["id"]}, tokens[who])
        burst = [await events.get(), await events.get()]
    reads_before = fanout.loads_of(services).reads

    async def visible_to(user: User) -> list[str]:  # what a live page of theirs is handed
        return [loaded.request.id for loaded in await fanout.visible(services, user, burst)]

    assert await visible_to(DRIVER_A) == [mine["id"]]
    assert await visible_to(DRIVER_B) == [hers["id"]]
    assert await visible_to(MANAGER) == [mine["id"], hers["id"]]
    assert await visible_to(FOREIGN_MANAGER) == []
    assert fanout.loads_of(services).reads - reads_before <= 2  # each event read once at most
    assert (await watch_mine.next()).data["usageRequestUpdated"]["status"] == "CANCELLED"
    assert (await watch_hers.next()).data["usageRequestUpdated"]["status"] == "CANCELLED"
    for stream in (watch_mine, watch_hers, peek):
        await stream.close()
