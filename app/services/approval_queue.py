"""The manager's approval queue: requests that wait for a manager of the manager's sites,
with the names and time zone a page needs to show them."""

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from app.domain.model import UsageRequest, User
from app.services.container import Services
from app.store.listing import waiting_for_managers
from app.store.repositories import Sites

MAX_QUEUE = 100  # a queue longer than this is a policy problem, not a page to scroll


@dataclass(frozen=True)
class Waiting:
    request: UsageRequest
    driver_name: str
    device_name: str
    site_name: str
    timezone: str


async def approval_queue(services: Services, manager: User) -> list[Waiting]:
    """Oldest first: the one waiting longest is decided first."""
    if not manager.is_manager:
        return []

    def work(conn: Connection) -> list[Waiting]:
        site_ids = Sites(conn).managed_by(manager.id)
        if not site_ids:
            return []
        page = waiting_for_managers(conn, site_ids, first=MAX_QUEUE)  # names joined in
        return [
            Waiting(w.request, w.driver_name, w.device_name, w.site_name, w.timezone)
            for w in reversed(page)
        ]

    return await services.db.read(work)
