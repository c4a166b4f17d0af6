"""Who did what when at the manager's sites: the audit log, filtered and paged."""

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from app.domain.model import Site, User
from app.services.container import Services
from app.services.site_days import day_bounds
from app.services.sites import managed_site
from app.store.audit import AuditEntry as AuditEntry  # what a page shows of each
from app.store.audit import AuditSearch, count_audit, search_audit

MAX_PAGE = 100
SERVER = "server"  # the actor filter's value for what the server did on its own

# The actions the log holds, in the words a page shows.
ACTIONS = {
    "request": "Requested",
    "approve": "Approved",
    "reject": "Rejected",
    "cancel": "Cancelled",
    "revoke": "Revoked",
    "issue_permit": "Issued the permit",
    "expire": "Expired",
    "release_slot": "Released a withdrawn slot",
    "receipt": "Receipt in",
    "register_device": "Registered a charger",
    "update_charger": "Edited a charger",
    "update_site_policy": "Changed the site policy",
}


@dataclass(frozen=True)
class AuditQuery:
    """`actor_id` SERVER: the server's own changes (expiry, receipts); days are the site's."""

    site_id: str
    actor_id: str | None = None
    action: str | None = None
    first_day: date | None = None
    last_day: date | None = None


@dataclass(frozen=True)
class AuditPage:
    site: Site
    entries: list[AuditEntry]
    total: int


async def audit_trail(
    services: Services, manager: User, query: AuditQuery, *, offset: int, limit: int
) -> AuditPage:
    limit = max(1, min(limit, MAX_PAGE))

    def work(conn: Connection) -> AuditPage:
        site = managed_site(conn, manager, query.site_id)
        at_from, at_before = day_bounds(query.first_day, query.last_day, ZoneInfo(site.timezone))
        search = AuditSearch(
            site_ids=[site.id],
            actor_id=None if query.actor_id == SERVER else query.actor_id,
            any_actor=query.actor_id is None,
            action=query.action,
            at_from=at_from,
            at_before=at_before,
        )
        entries = search_audit(conn, search, offset=max(0, offset), limit=limit)
        return AuditPage(site, entries, count_audit(conn, search))

    return await services.db.read(work)
