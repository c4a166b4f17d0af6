"""Pages of usage requests for the API and the pages: one query, permits joined in."""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.domain.model import UsageRequest
from app.store import tables as t
from app.store.requests import request_from_row


@dataclass(frozen=True)
class RequestFilter:
    user_id: str | None = None  # a driver sees only their own
    site_ids: Sequence[str] | None = None  # a manager sees their sites'
    status: str | None = None
    device_id: str | None = None


def page_of_requests(
    conn: Connection, where: RequestFilter, *, first: int, after_id: int | None
) -> tuple[list[UsageRequest], bool]:
    """Newest first; returns the page and whether more follow."""
    table = t.usage_requests
    query = sa.select(table, t.permits.c.id.label("permit_id")).outerjoin(
        t.permits, t.permits.c.request_id == table.c.id
    )
    if where.user_id is not None:
        query = query.where(table.c.user_id == where.user_id)
    if where.site_ids is not None:
        query = query.where(table.c.site_id.in_(list(where.site_ids)))
    if where.status is not None:
        query = query.where(table.c.status == where.status)
    if where.device_id is not None:
        query = query.where(table.c.device_id == where.device_id)
    if after_id is not None:
        query = query.where(table.c.id < after_id)
    query = query.order_by(table.c.id.desc()).limit(first + 1)
    rows = list(conn.execute(query).mappings())
    page = [request_from_row(row, row["permit_id"]) for row in rows[:first]]
    return page, len(rows) > first
