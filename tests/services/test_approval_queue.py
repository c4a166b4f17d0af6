"""A manager's approval queue: the requests waiting for them, oldest first, each with the
names and time zone the page shows, from one query on either engine."""

from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Connection

from app.domain.model import Status
from app.services import usage
from app.services.approval_queue import approval_queue
from app.services.container import Services
from app.services.demo import SITE, add_busy_site
from app.store.repositories import Users
from tests.conftest import Clock


async def test_the_queue_shows_waiting_requests_oldest_first_with_their_names(
    services: Services, demo: dict[str, Any], clock: Clock
) -> None:
    def add_other_site(conn: Connection) -> None:
        add_busy_site(conn, "other", devices=1, drivers=1, now=clock.now)

    await services.db.write(add_other_site)
    manager, udo, uma, stranger = await services.db.read(
        lambda conn: [Users(conn).get(u) for u in ("m1", "u1", "u2", "other-u0")]
    )
    assert manager and udo and uma and stranger
    hour = clock.now + timedelta(hours=2)
    first = await usage.request_usage(services, udo, "ch-1", hour, timedelta(hours=3))
    await usage.request_usage(services, uma, "ch-2", hour, timedelta(minutes=30))  # approved
    second = await usage.request_usage(
        services, uma, "ch-2", hour + timedelta(hours=1), timedelta(hours=3)
    )
    await usage.request_usage(services, stranger, "other-0", hour, timedelta(hours=3))  # not theirs
    assert first.request and second.request
    assert first.request.status is Status.NEEDS_MANAGER

    queue = await approval_queue(services, manager)

    assert [w.request.id for w in queue] == [first.request.id, second.request.id]
    assert [(w.driver_name, w.device_name) for w in queue] == [
        ("Udo Driver", "Bay 1"),
        ("Uma Driver", "Bay 2"),
    ]
    assert {(w.site_name, w.timezone) for w in queue} == {(SITE.name, SITE.timezone)}
    assert all(w.request.permit_id is None for w in queue)
    assert await approval_queue(services, udo) == []  # a driver has no queue
