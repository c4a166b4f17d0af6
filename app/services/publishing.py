"""Request changes become events: written to the outbox inside the change's transaction,
published on the bus after its commit.

`write_then_publish` is how a use case changes state: its event rows commit with the
change or not at all, so an event is never lost between a commit and a crash (the relay in
app/services/outbox.py publishes what a dead process left behind) and never announces a
change that was rolled back.
"""

import logging
import os
import signal
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy.engine import Connection

from app.domain.events import UsageRequestChanged
from app.domain.model import UsageRequest
from app.services.container import Services
from app.store import outbox

T = TypeVar("T")
log = logging.getLogger("powerpermit.events")


def event_for(request: UsageRequest) -> UsageRequestChanged:
    return UsageRequestChanged(
        request.id, request.site_id, request.device_id, request.user_id, request.status.value
    )


async def write_then_publish(
    services: Services,
    work: Callable[[Connection], T],
    changed: Callable[[T], Iterable[UsageRequest]],
) -> T:
    """Run `work` as one write transaction; the requests `changed(result)` names get their
    event rows in that same transaction, and are published once it has committed."""
    events: list[UsageRequestChanged] = []

    def recorded(conn: Connection) -> T:
        result = work(conn)
        # Assigned, not appended: a transaction run again leaves only its last events.
        events[:] = [outbox.insert(conn, event_for(request)) for request in changed(result)]
        return result

    result = await services.db.write(recorded)
    await publish_events(services, events)
    return result


async def publish_events(services: Services, events: list[UsageRequestChanged]) -> None:
    if not events:
        return
    if services.relay is not None and services.relay.die_before_publish:
        # Test-only fault (POWERPERMIT_TEST_DIE_BEFORE_PUBLISH, read at start): the crash
        # between commit and publish that the outbox relay is there to repair.
        os.kill(os.getpid(), signal.SIGKILL)
    for event in events:
        try:
            await services.bus.publish(event)
        except Exception:  # noqa: BLE001 - committed already; the relay publishes it later
            log.warning("event %s not published now; the outbox relay will", event.id)
            continue
        if services.relay is not None:
            services.relay.published(event.sequence)


async def publish(services: Services, request: UsageRequest) -> None:
    """Publish a change without an outbox row (best effort: lost if the process dies now).
    Prefer `write_then_publish`; this stays for callers that already committed."""
    await services.bus.publish(event_for(request))
