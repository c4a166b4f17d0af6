"""The manager console's requests: filtered, paged, and all of them for an export."""

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from app.domain.model import Site, User
from app.services.container import Services
from app.services.site_days import day_bounds
from app.services.sites import managed_site
from app.store.console import NamedRequest as NamedRequest  # what a page shows of each
from app.store.console import RequestSearch, count_requests, search_requests

MAX_PAGE = 100
MAX_EXPORT = 100_000  # a bigger export is a question for the database, not a spreadsheet


@dataclass(frozen=True)
class RequestQuery:
    """Days are the site's calendar days, both ends included."""

    site_id: str
    status: str | None = None
    device_id: str | None = None
    driver_id: str | None = None
    first_day: date | None = None
    last_day: date | None = None


@dataclass(frozen=True)
class FoundRequests:
    site: Site
    rows: list[NamedRequest]
    total: int  # of all pages


async def find_requests(
    services: Services, manager: User, query: RequestQuery, *, offset: int, limit: int
) -> FoundRequests:
    limit = max(1, min(limit, MAX_PAGE))

    def work(conn: Connection) -> FoundRequests:
        site = managed_site(conn, manager, query.site_id)
        search = _search(site, query)
        rows = search_requests(conn, search, offset=max(0, offset), limit=limit)
        return FoundRequests(site, rows, count_requests(conn, search))

    return await services.db.read(work)


async def all_requests(services: Services, manager: User, query: RequestQuery) -> FoundRequests:
    """Every matching request, newest first, up to MAX_EXPORT (`total` tells if more)."""

    def work(conn: Connection) -> FoundRequests:
        site = managed_site(conn, manager, query.site_id)
        search = _search(site, query)
        rows = search_requests(conn, search, offset=0, limit=MAX_EXPORT)
        return FoundRequests(site, rows, count_requests(conn, search))

    return await services.db.read(work)


def _search(site: Site, query: RequestQuery) -> RequestSearch:
    starts_from, starts_before = day_bounds(
        query.first_day, query.last_day, ZoneInfo(site.timezone)
    )
    return RequestSearch(
        site_ids=[site.id],
        status=query.status,
        device_id=query.device_id,
        user_id=query.driver_id,
        starts_from=starts_from,
        starts_before=starts_before,
    )
