"""The manager console's reads: requests by filter, slots on a time axis, energy from
receipts and the chargers' last word, each for a set of sites (the audit trail's reads are
in app/store/audit.py, beside its writes).

Every query here names the sites it may look at; the services decide which those are.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.domain.model import Device, Slot, UsageRequest
from app.store import tables as t
from app.store.repositories import device_from_row
from app.store.requests import request_from_row

_R, _P, _D, _U = t.usage_requests, t.permits, t.devices, t.users


@dataclass(frozen=True)
class RequestSearch:
    site_ids: Sequence[str]
    status: str | None = None
    device_id: str | None = None
    user_id: str | None = None
    starts_from: datetime | None = None  # the slot starts at or after
    starts_before: datetime | None = None


@dataclass(frozen=True)
class NamedRequest:
    request: UsageRequest
    driver_name: str
    device_name: str


def _request_conditions(search: RequestSearch) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [_R.c.site_id.in_(list(search.site_ids))]
    if search.status is not None:
        where.append(_R.c.status == search.status)
    if search.device_id is not None:
        where.append(_R.c.device_id == search.device_id)
    if search.user_id is not None:
        where.append(_R.c.user_id == search.user_id)
    if search.starts_from is not None:
        where.append(_R.c.starts_at >= search.starts_from)
    if search.starts_before is not None:
        where.append(_R.c.starts_at < search.starts_before)
    return where


def count_requests(conn: Connection, search: RequestSearch) -> int:
    query = sa.select(sa.func.count()).select_from(_R).where(*_request_conditions(search))
    return int(conn.execute(query).scalar_one())


def search_requests(
    conn: Connection, search: RequestSearch, *, offset: int, limit: int
) -> list[NamedRequest]:
    """Newest first, with the driver's and the charger's names."""
    query = _named_requests().where(*_request_conditions(search))
    return _named(conn, query.order_by(_R.c.id.desc()).offset(offset).limit(limit))


def slots_of_site(conn: Connection, site_id: str, window: Slot) -> list[NamedRequest]:
    """Every slot-holding request of the site's chargers that overlaps the window."""
    query = _named_requests().where(
        _R.c.site_id == site_id,
        t.holds_slot(_R),
        _R.c.starts_at < window.ends_at,
        _R.c.ends_at > window.starts_at,
    )
    return _named(conn, query.order_by(_R.c.starts_at))


def _named_requests() -> sa.Select[Any]:
    return (
        sa.select(
            _R,
            _P.c.id.label("permit_id"),
            _U.c.display_name.label("driver_name"),
            _D.c.name.label("device_name"),
        )
        .join(_U, _U.c.id == _R.c.user_id)
        .join(_D, _D.c.id == _R.c.device_id)
        .outerjoin(_P, _P.c.request_id == _R.c.id)
    )


def _named(conn: Connection, query: sa.Select[Any]) -> list[NamedRequest]:
    return [
        NamedRequest(
            request_from_row(row, row["permit_id"]), row["driver_name"], row["device_name"]
        )
        for row in conn.execute(query).mappings()
    ]


@dataclass(frozen=True)
class Delivered:
    device_id: str
    started_at: datetime
    energy_wh: float


def energy_of_site(conn: Connection, site_id: str, window: Slot) -> list[Delivered]:
    """What the site's chargers say they delivered, by sessions started in the window."""
    rc = t.receipts.c
    query = (
        sa.select(rc.device_id, rc.started_at, rc.energy_wh)
        .join(_D, _D.c.id == rc.device_id)
        .where(
            _D.c.site_id == site_id,
            rc.started_at >= window.starts_at,
            rc.started_at < window.ends_at,
        )
    )
    return [Delivered(*row) for row in conn.execute(query)]


@dataclass(frozen=True)
class ChargerState:
    device: Device
    revocation_sequence: int
    last_receipt_at: datetime | None  # when the newest receipt reached the server


def chargers_of(conn: Connection, site_ids: Sequence[str]) -> list[ChargerState]:
    last = (
        sa.select(t.receipts.c.device_id, sa.func.max(t.receipts.c.received_at).label("last_at"))
        .group_by(t.receipts.c.device_id)
        .subquery()
    )
    query = (
        sa.select(_D, last.c.last_at)
        .outerjoin(last, last.c.device_id == _D.c.id)
        .where(_D.c.site_id.in_(list(site_ids)))
        .order_by(_D.c.site_id, _D.c.id)
    )
    return [
        ChargerState(
            device_from_row(row),
            row["revocation_sequence"],
            row["last_at"],  # max() keeps the column's type: already a datetime
        )
        for row in conn.execute(query).mappings()
    ]
