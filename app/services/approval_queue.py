"""The manager's approval queue: requests that wait for a manager of the manager's sites,
with the names and time zone a page needs to show them."""

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from app.domain.model import Status, UsageRequest, User
from app.services.container import Services
from app.store.listing import RequestFilter, page_of_requests
from app.store.repositories import Devices, Sites, Users

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
        where = RequestFilter(site_ids=site_ids, status=Status.NEEDS_MANAGER.value)
        requests, _ = page_of_requests(conn, where, first=MAX_QUEUE, after_id=None)
        sites = {site_id: Sites(conn).get(site_id) for site_id in site_ids}
        devices = Devices(conn).many({r.device_id for r in requests})
        users = Users(conn)
        queue = []
        for request in reversed(requests):
            site, device, driver = (
                sites[request.site_id],
                devices.get(request.device_id),
                users.get(request.user_id),
            )
            assert site is not None
            queue.append(
                Waiting(
                    request,
                    driver.display_name if driver else request.user_id,
                    device.name if device else request.device_id,
                    site.name,
                    site.timezone,
                )
            )
        return queue

    return await services.db.read(work)
