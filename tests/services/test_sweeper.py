"""The background sweep drains a backlog of overdue requests in bounded batches, on both
engines, and two server "processes" on one PostgreSQL (two Services, each with its own
engine and pool) never expire the same request twice."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.domain.model import Status, User
from app.services import devices as device_service
from app.services import usage
from app.services.container import Services, build_services
from app.services.demo import add_busy_site
from app.services.events import Event
from app.services.sweeper import SWEEP_LOCK, sweep
from app.settings import Settings
from app.store import tables as t
from app.store.outbox import decode
from app.store.repositories import Users
from tests.conftest import Clock

SITE = "sweep"
DEVICES = 5


async def _ask_many(
    services: Services, clock: Clock, count: int, site: str = SITE
) -> tuple[list[str], User]:
    """`count` requests on a new site, alternating short (approved at once) and long
    (waiting for a manager) slots, spread over the devices 4 h apart, within two days."""

    def add_site(conn: Connection) -> None:
        add_busy_site(conn, site, devices=DEVICES, drivers=1, now=clock.now)

    await services.db.write(add_site)
    driver = await services.db.read(lambda conn: Users(conn).get(f"{site}-u0"))
    assert driver is not None
    ids = []
    for n in range(count):
        minutes = 30 if n % 2 else 180  # 180 > the site's automatic-approval limit
        starts = clock.now + timedelta(hours=1 + 4 * (n // DEVICES))
        asked = await usage.request_usage(
            services, driver, f"{site}-{n % DEVICES}", starts, timedelta(minutes=minutes)
        )
        assert asked.request is not None, asked.decision
        ids.append(asked.request.id)
    return ids, driver


async def _statuses(services: Services, ids: list[str]) -> set[str]:
    table = t.usage_requests
    query = sa.select(table.c.status).where(table.c.id.in_([int(i) for i in ids]))
    return await services.db.read(lambda conn: set(conn.execute(query).scalars()))


async def _expiries_audited(services: Services) -> list[str]:
    query = sa.select(t.audit_log.c.entity_id).where(t.audit_log.c.action == "expire")
    return sorted(await services.db.read(lambda conn: list(conn.execute(query).scalars())))


async def test_a_backlog_drains_completely_over_bounded_batches_and_each_is_announced(
    services: Services, clock: Clock
) -> None:
    overdue, _ = await _ask_many(services, clock, 23)
    clock.advance(timedelta(days=2))  # every window has passed: a server that was down
    later = await _ask_two_ahead(services, clock)

    async with services.bus.subscribe([f"site:{SITE}"]) as events:
        swept = await sweep(services, batch=5)
        heard = _drain(events)

    assert swept.ran
    assert swept.expired == 23
    assert swept.batches >= 5  # 5 + 5 + 5 + 5 + 3: never more than a batch at once
    assert await _statuses(services, overdue) == {Status.EXPIRED.value}
    assert await _statuses(services, later) <= {"APPROVED", "NEEDS_MANAGER"}
    assert await _expiries_audited(services) == sorted(overdue)  # each once
    expired_events = [e.request_id for e in heard if e.status == Status.EXPIRED.value]
    assert sorted(expired_events) == sorted(overdue)
    assert (await sweep(services, batch=5)).expired == 0  # nothing left


async def test_each_expired_request_has_one_audit_row_with_its_site_and_one_event(
    services: Services, clock: Clock
) -> None:
    # Two sites in the same batches: each row's site is its own request's.
    on_a, _ = await _ask_many(services, clock, 7)
    on_b, _ = await _ask_many(services, clock, 6, site="sweep-b")
    site_of = {**dict.fromkeys(on_a, SITE), **dict.fromkeys(on_b, "sweep-b")}
    clock.advance(timedelta(days=2))
    stored_before = await _outbox_rows(services)

    async with services.bus.subscribe([f"site:{SITE}", "site:sweep-b"]) as events:
        swept = await sweep(services, batch=4)
        heard = _drain(events)

    assert swept.expired == 13
    audited = await services.db.read(
        lambda conn: (
            conn.execute(sa.select(t.audit_log).where(t.audit_log.c.action == "expire"))
            .mappings()
            .all()
        )
    )
    assert sorted(row["entity_id"] for row in audited) == sorted(site_of)  # each once
    for row in audited:
        assert row["entity"] == "usage_request" and row["actor_id"] is None
        assert row["site_id"] == site_of[row["entity_id"]]
        assert row["before"]["status"] in {"APPROVED", "NEEDS_MANAGER"}
        assert row["after"]["status"] == "EXPIRED"

    # One outbox row per expired request, its id and sequence the ones subscribers heard.
    stored = [e for e in await _outbox_rows(services) if e not in stored_before]
    assert sorted(e.request_id for e in stored) == sorted(site_of)
    assert all(e.status == "EXPIRED" and e.site_id == site_of[e.request_id] for e in stored)
    assert len({e.id for e in stored}) == len(stored) and all(e.id for e in stored)
    assert sorted(heard, key=lambda e: e.sequence) == stored
    assert [e.sequence for e in heard] == sorted(e.sequence for e in heard)  # in order


async def _outbox_rows(services: Services) -> list[Event]:
    """Every stored event as its row says: the payload's fields, the row's id and sequence."""
    query = sa.select(t.event_outbox.c.seq, t.event_outbox.c.event_id, t.event_outbox.c.payload)
    rows = await services.db.read(lambda conn: conn.execute(query.order_by("seq")).all())
    stored = []
    for seq, event_id, payload in rows:
        event = decode(payload)
        assert event.id == event_id
        stored.append(replace(event, sequence=int(seq)))
    return stored


async def _ask_two_ahead(services: Services, clock: Clock) -> list[str]:
    """Two requests still ahead, which the sweep must leave alone."""
    driver = await services.db.read(lambda conn: Users(conn).get(f"{SITE}-u0"))
    assert driver is not None
    ids = []
    for n in range(2):
        asked = await usage.request_usage(
            services, driver, f"{SITE}-{n}", clock.now + timedelta(hours=3), timedelta(hours=1)
        )
        assert asked.request is not None, asked.decision
        ids.append(asked.request.id)
    return ids


def _drain(events: "asyncio.Queue[Event]") -> list[Event]:
    heard = []
    while not events.empty():
        heard.append(events.get_nowait())
    return heard


async def test_expired_requests_free_their_slots_in_the_devices_availability(
    services: Services, clock: Clock
) -> None:
    started = clock.now
    _, driver = await _ask_many(services, clock, DEVICES)
    day = (started, started + timedelta(hours=6))
    before = await device_service.availability(services, driver, f"{SITE}-0", *day)
    assert len(before.taken) == 1

    clock.advance(timedelta(hours=6))
    await sweep(services, batch=2)

    after = await device_service.availability(services, driver, f"{SITE}-0", *day)
    assert after.taken == []
    assert [(s.starts_at, s.ends_at) for s in after.free] == [day]


@pytest.fixture
async def second_process(settings: Settings, clock: Clock) -> AsyncIterator[Services]:
    other = build_services(settings)
    other.clock = clock
    yield other
    await other.db.dispose()


# SQLite serves one process by design (DESIGN.md): these two are PostgreSQL's.
ON_POSTGRESQL = pytest.mark.parametrize("settings", ["postgresql"], indirect=True)


@ON_POSTGRESQL
async def test_only_one_process_holds_the_sweep_at_a_time(
    services: Services, second_process: Services, clock: Clock
) -> None:
    overdue, _ = await _ask_many(services, clock, 6)
    clock.advance(timedelta(days=2))

    async with services.db.exclusive(SWEEP_LOCK) as mine:
        assert mine
        skipped = await sweep(second_process, batch=2)
        assert not skipped.ran and skipped.expired == 0
        assert await _statuses(services, overdue) <= {"APPROVED", "NEEDS_MANAGER"}

    swept = await sweep(second_process, batch=2)  # released: the other process sweeps now
    assert swept.ran and swept.expired == 6


@ON_POSTGRESQL
async def test_two_processes_sweeping_at_once_never_expire_a_request_twice(
    services: Services, second_process: Services, clock: Clock
) -> None:
    overdue, _ = await _ask_many(services, clock, 40)
    clock.advance(timedelta(days=2))

    # The batches themselves, without the advisory lock: row locks with SKIP LOCKED alone
    # must keep two sweepers off each other's rows.
    async def drain(services: Services) -> int:
        total = 0
        while done := await usage.expire_overdue(services, limit=3):
            total += done
        return total

    first, second = await asyncio.gather(drain(services), drain(second_process))
    assert first + second == 40
    assert await _expiries_audited(services) == sorted(overdue)
    assert await _statuses(services, overdue) == {Status.EXPIRED.value}

    rounds = await asyncio.gather(sweep(services), sweep(second_process))
    assert sum(r.expired for r in rounds) == 0
