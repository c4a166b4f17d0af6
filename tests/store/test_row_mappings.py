"""One honest contract per table: one entity -> row mapping that every write goes through,
and whole domain objects (no partial `Site`) from the booking hot path.

Before, a usage request was written by two mappings (epoch integers for the insert,
datetimes for the update) and `load_context` built a Site whose member and manager sets
held only the asker.
"""

from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Connection

from app.domain.model import Permit, Reason, Slot, Status, UsageRequest
from app.services.container import Services
from app.store import tables as t
from app.store.booking import load_context, permit_row, request_row
from app.store.permits import Permits
from app.store.repositories import Devices, Sites, Users, device_row, site_row, user_row
from app.store.requests import UsageRequests


def columns(table: Any, *store_owned: str) -> set[str]:
    return {c.name for c in table.c} - set(store_owned)


async def test_each_mapping_names_every_column_its_table_has(
    services: Services, demo: dict[str, Any]
) -> None:
    def work(conn: Connection) -> None:
        user = Users(conn).get("u1")
        site = Sites(conn).get("site-1")
        device = Devices(conn).get("ch-1")
        assert user is not None and site is not None and device is not None
        assert set(user_row(user, None)) == columns(t.users)
        assert set(site_row(site)) == columns(t.sites)
        assert set(device_row(device)) == columns(t.devices, "revocation_sequence")

    await services.db.read(work)


async def test_a_request_and_its_permit_round_trip_through_insert_and_update(
    services: Services, demo: dict[str, Any]
) -> None:
    now = services.clock()
    start = now + timedelta(hours=1)
    request = UsageRequest(
        "", "u1", "ch-1", "site-1", Slot(start, start + timedelta(hours=1)), Status.APPROVED,
        created_at=now, reasons=(Reason("needs_manager_approval", "long"),),
    )  # fmt: skip
    assert set(request_row(request)) == columns(t.usage_requests, "id")

    def insert(conn: Connection) -> tuple[UsageRequest | None, Permit | None]:
        added = replace(request, id=UsageRequests(conn).add(request))
        permit = services.signer.issue(added, Devices(conn).get("ch-1"), now)  # type: ignore[arg-type]
        assert set(permit_row(permit)) == columns(t.permits, "id")
        Permits(conn).add(permit)
        return UsageRequests(conn).get(added.id), Permits(conn).get(permit.id)

    stored, permit = await services.db.write(insert)
    assert stored is not None and permit is not None
    assert replace(stored, id="", permit_id=None) == request

    changed = replace(
        stored, status=Status.CANCELLED, decided_by="m1", note="n", energy_wh=1.5,
        revocation_pending=True,
    )  # fmt: skip
    revoked = replace(permit, revoked_at=now + timedelta(minutes=1))

    def update(conn: Connection) -> tuple[UsageRequest | None, Permit | None]:
        UsageRequests(conn).save(changed)
        Permits(conn).save(revoked)
        return UsageRequests(conn).get(changed.id), Permits(conn).get(permit.id)

    assert await services.db.write(update) == (changed, revoked)


async def test_the_booking_context_holds_the_whole_site(
    services: Services, demo: dict[str, Any]
) -> None:
    now = services.clock()

    def work(conn: Connection) -> None:
        asker = Users(conn).get("u1")
        assert asker is not None
        slot = Slot(now + timedelta(hours=1), now + timedelta(hours=2))
        found = load_context(conn, asker, "ch-1", slot, now)
        assert found.site == Sites(conn).get("site-1")
        assert found.site is not None and found.site.member_ids == {"u1", "u2"}

    await services.db.read(work)
