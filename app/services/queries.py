"""Reading usage requests, with who-may-see-what applied in one place."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from app.domain.model import Permit, UsageRequest, User
from app.services.access import is_among_managers
from app.services.container import Services
from app.store.listing import RequestFilter, page_of_requests
from app.store.permits import Permits
from app.store.repositories import Sites
from app.store.requests import UsageRequests

MAX_PAGE = 100


@dataclass(frozen=True)
class Page:
    requests: list[UsageRequest]
    has_next: bool


def may_see(conn: Connection, user: User, request: UsageRequest) -> bool:
    return sees(user, request, Sites(conn).managers_of(request.site_id))


def sees(user: User, request: UsageRequest, site_manager_ids: Collection[str]) -> bool:
    """Who may see a request: its driver, and the managers of its site. In memory, so one
    load of an event serves the visibility check of every subscriber (services/fanout.py)."""
    return request.user_id == user.id or is_among_managers(user, site_manager_ids)


async def get_request(services: Services, user: User, request_id: str) -> UsageRequest | None:
    """The request, or None when it does not exist or is not this person's to see."""

    def work(conn: Connection) -> UsageRequest | None:
        request = UsageRequests(conn).get(request_id)
        return request if request is not None and may_see(conn, user, request) else None

    return await services.db.read(work)


async def list_requests(
    services: Services, user: User, *, status: str | None, first: int, after_id: int | None
) -> Page:
    first = max(1, min(first, MAX_PAGE))

    def work(conn: Connection) -> Page:
        if user.is_manager:
            where = RequestFilter(site_ids=Sites(conn).managed_by(user.id), status=status)
        else:
            where = RequestFilter(user_id=user.id, status=status)
        requests, has_next = page_of_requests(conn, where, first=first, after_id=after_id)
        return Page(requests, has_next)

    return await services.db.read(work)


async def load_permits_by_id(services: Services, permit_ids: list[str]) -> list[Permit | None]:
    """In order, one query: the DataLoader behind every `permit` field."""
    found = await services.db.read(lambda conn: Permits(conn).many(permit_ids))
    return [found.get(permit_id) for permit_id in permit_ids]


async def managed_sites(services: Services, user: User) -> list[str]:
    if not user.is_manager:
        return []
    return await services.db.read(lambda conn: Sites(conn).managed_by(user.id))
