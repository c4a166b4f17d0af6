"""The transactional outbox on both engines: a change's event row commits with the change,
the writer's publish marks it, an orphan (its writer died after the commit) is published
by the relay once, and published rows are pruned."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from app.domain.errors import InvalidTransition
from app.domain.events import UsageRequestChanged
from app.services import outbox as relay_module
from app.services import usage
from app.services.container import Services, build_services
from app.services.events import EventBus
from app.services.outbox import OutboxRelay, event_lag_seconds, outbox_backlog
from app.settings import Settings
from app.store import outbox
from app.store.repositories import Users
from tests.conftest import Clock


async def stored_events(services: Services) -> int:
    count, _ = await services.db.read(outbox.backlog)
    published = await services.db.read(lambda conn: outbox.since(conn, 0, 0, 1000))
    return max(count, len(published))


async def test_a_change_and_its_event_commit_together_and_the_publish_marks_it(
    services: Services, demo: dict[str, Any], clock: Clock
) -> None:
    driver = await services.db.read(lambda conn: Users(conn).get("u1"))
    assert driver is not None
    async with services.bus.subscribe(["site:site-1"]) as events:
        asked = await usage.request_usage(
            services, driver, "ch-1", clock.now + timedelta(hours=2), timedelta(hours=1)
        )
        assert asked.request is not None
        event = await asyncio.wait_for(events.get(), 5)
    assert event.request_id == asked.request.id
    assert event.id and event.sequence > 0  # what a bus dedupes by and catches up from
    stored = await services.db.read(lambda conn: outbox.since(conn, 0, 0, 10))
    assert [(e.id, e.sequence) for e in stored] == [(event.id, event.sequence)]

    assert await outbox_backlog(services) == 1  # published, the mark not written yet
    assert services.relay is not None
    await services.relay.flush()
    assert await outbox_backlog(services) == 0
    assert await event_lag_seconds(services) == 0.0


async def test_a_refused_change_leaves_no_event(
    services: Services, demo: dict[str, Any], clock: Clock
) -> None:
    manager = await services.db.read(lambda conn: Users(conn).get("m1"))
    driver = await services.db.read(lambda conn: Users(conn).get("u1"))
    assert manager is not None and driver is not None
    asked = await usage.request_usage(
        services, driver, "ch-1", clock.now + timedelta(hours=2), timedelta(hours=1)
    )
    assert asked.request is not None
    before = await stored_events(services)
    with pytest.raises(InvalidTransition):  # an approved request cannot be rejected
        await usage.reject(services, manager, asked.request.id, "no")
    assert await stored_events(services) == before


async def test_an_orphaned_event_is_published_by_the_relay_once(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its writer committed and died before publishing: after the grace period any
    process's relay publishes it, and marks it so no relay publishes it again."""
    relay = services.relay
    assert relay is not None
    orphan = await services.db.write(
        lambda conn: outbox.insert(
            conn, UsageRequestChanged("9", "site-1", "ch-1", "u1", "APPROVED")
        )
    )
    async with services.bus.subscribe(["request:9"]) as events:
        assert await relay.tick() == 0  # within the grace period: its writer may still
        assert events.empty()
        monkeypatch.setattr(relay_module, "GRACE_MS", -1000)
        assert await event_lag_seconds(services) > 0
        assert await relay.tick() == 1
        assert await asyncio.wait_for(events.get(), 5) == orphan
        assert await relay.tick() == 0
        assert events.empty()
    assert await outbox_backlog(services) == 0


async def test_published_rows_are_pruned_after_the_retention(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = services.relay
    assert relay is not None
    for request_id in ("1", "2", "3"):
        event = await services.db.write(
            lambda conn, rid=request_id: outbox.insert(
                conn, UsageRequestChanged(rid, "site-1", "ch-1", "u1", "APPROVED")
            )
        )
        if request_id != "3":
            relay.published(event.sequence)
    await relay.flush()
    assert await relay.prune() == 0  # younger than the retention
    monkeypatch.setattr(relay_module, "RETENTION_MS", -1000)
    assert await relay.prune() == 2
    assert await outbox_backlog(services) == 1  # the unpublished one stays


async def test_relays_in_two_processes_share_the_orphans_without_overlap(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each orphan is leased by one relay (SKIP LOCKED on PostgreSQL, the writer lock on
    SQLite): between them they publish all of them, none twice."""
    other = build_services(settings)
    try:
        for i in range(60):
            await services.db.write(
                lambda conn, rid=str(i): outbox.insert(
                    conn, UsageRequestChanged(rid, "site-1", "ch-1", "u1", "APPROVED")
                )
            )
        monkeypatch.setattr(relay_module, "CLAIM_BATCH", 7)  # many small claims interleave
        monkeypatch.setattr(relay_module, "GRACE_MS", -1000)
        heard: list[list[str]] = [[], []]

        async def drain(index: int, relay: OutboxRelay, bus: EventBus) -> None:
            async with bus.subscribe(["site:site-1"]) as events:
                while await relay.tick():
                    await asyncio.sleep(0)
                while not events.empty():
                    heard[index].append(events.get_nowait().request_id)

        assert services.relay is not None and other.relay is not None
        await asyncio.gather(
            drain(0, services.relay, services.bus), drain(1, other.relay, other.bus)
        )
        assert sorted(heard[0] + heard[1], key=int) == [str(i) for i in range(60)]
        assert await outbox_backlog(services) == 0
    finally:
        await other.db.dispose()
