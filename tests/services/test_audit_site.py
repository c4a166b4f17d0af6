"""Every audit entry names its site (migration 0007): a site's log is exactly its own
entries, whatever changed, and the rows stored before the migration got their site too."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from app.cli import alembic_config
from app.domain.model import Role, User
from app.services.audit_trail import AuditQuery, audit_trail
from app.services.chargers import update_charger
from app.services.container import Services
from app.services.errors import NotFound
from app.services.permits import revoke_permit
from app.services.policy import update_site_policy
from app.services.usage import approve, request_usage
from app.settings import Settings
from app.store import tables as t
from tests.conftest import Clock
from tests.store.raw_sql import run_sql
from tests.ui.console import OTHER_DRIVER, OTHER_MANAGER, add_other_site

MIA = User("m1", "manager", "Mia Manager", Role.MANAGER)
UDO = User("u1", "user", "Udo Driver", Role.USER)


async def busy_day(
    services: Services, manager: User, driver: User, site: str, device: str, clock: Clock
) -> None:
    """One of each kind of change at a site: requests (approved, revoked), a charger edit,
    a policy change."""
    start = clock.now + timedelta(minutes=10)
    asked = await request_usage(services, driver, device, start, timedelta(hours=1))
    assert asked.permit is not None
    await revoke_permit(services, manager, asked.permit.id, "closed for works")
    later = start + timedelta(days=1)
    waiting = await request_usage(services, driver, device, later, timedelta(hours=6))
    if waiting.request is not None and waiting.permit is None:
        await approve(services, manager, waiting.request.id)
    await update_charger(services, manager, device, name=f"{device} renamed", max_power_w=7400)
    await update_site_policy(
        services,
        manager,
        site,
        opens_at=None,
        closes_at=None,
        max_duration=timedelta(hours=8),
        auto_approve_up_to=timedelta(hours=2),
        booking_horizon=timedelta(days=7),
        max_open_requests=3,
    )


async def whole_log(services: Services, manager: User, site: str) -> list[Any]:
    page = await audit_trail(services, manager, AuditQuery(site), offset=0, limit=100)
    assert page.total == len(page.entries)
    return page.entries


async def test_a_manager_sees_every_entry_of_the_site_and_none_of_another(
    services: Services, demo: dict[str, Any], clock: Clock
) -> None:
    await add_other_site(services)
    await busy_day(services, MIA, UDO, "site-1", "ch-1", clock)
    await busy_day(services, OTHER_MANAGER, OTHER_DRIVER, "site-2", "hx-1", clock)

    mine = await whole_log(services, MIA, "site-1")
    theirs = await whole_log(services, OTHER_MANAGER, "site-2")
    kinds = {entry.entity for entry in mine}
    assert kinds == {"usage_request", "permit", "device", "site"}
    assert {entry.entity for entry in theirs} == kinds
    # each entry's subject is the manager's own: the other site's ids never show
    assert not {(e.entity, e.entity_id) for e in mine} & {(e.entity, e.entity_id) for e in theirs}
    assert "hx-1" not in {e.entity_id for e in mine} and "site-2" not in {e.entity_id for e in mine}
    # nothing is lost between the two logs: together they are the whole table
    stored = await services.db.read(
        lambda conn: conn.execute(sa.select(sa.func.count()).select_from(t.audit_log)).scalar()
    )
    assert len(mine) + len(theirs) == stored
    # newest first
    assert [e.at for e in mine] == sorted((e.at for e in mine), reverse=True)
    with pytest.raises(NotFound):
        await audit_trail(services, MIA, AuditQuery("site-2"), offset=0, limit=10)


def test_0007_gives_the_rows_already_stored_their_site(settings: Settings) -> None:
    config, url = alembic_config(settings.database_url), settings.database_url
    command.upgrade(config, "head")
    command.downgrade(config, "0006")
    now = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp())
    people = "INSERT INTO users (id, login, display_name, role) VALUES ('u-m', 'u-m', 'U', 'user')"
    site = (
        "INSERT INTO sites (id, name, timezone, max_duration_min, auto_approve_min, "
        "horizon_days, start_grace_s, max_open_requests) "
        "VALUES (:id, 'S', 'UTC', 60, 60, 7, 300, 3)"
    )
    device = (
        "INSERT INTO devices (id, name, site_id, in_service, max_power_w) "
        "VALUES (:id, 'D', :site, true, 11000)"
    )
    request = (
        "INSERT INTO usage_requests (id, user_id, device_id, site_id, starts_at, ends_at, "
        "status, reasons, created_at) "
        "VALUES (:id, 'u-m', 'd-b', 's-b', :at, :until, 'APPROVED', '[]', :at)"
    )
    permit = (
        "INSERT INTO permits (id, request_id, device_id, user_id, not_before, expires_at, "
        "issued_at, max_energy_wh, max_power_w, token) "
        "VALUES ('p-b', 77, 'd-b', 'u-m', :at, :until, :at, 1000, 11000, :token)"
    )
    audit = (
        "INSERT INTO audit_log (at, actor_id, action, entity, entity_id) "
        "VALUES (:at, NULL, 'x', :entity, :entity_id)"
    )
    subjects = [
        ("usage_request", "77"),
        ("device", "d-a"),
        ("permit", "p-b"),
        ("site", "s-a"),
        ("device", "gone"),  # its charger no longer exists: no site shows it
    ]
    span = {"at": now, "until": now + 3600}
    rows = run_sql(
        url,
        [
            (people, {}),
            (site, {"id": "s-a"}),
            (site, {"id": "s-b"}),
            (device, {"id": "d-a", "site": "s-a"}),
            (device, {"id": "d-b", "site": "s-b"}),
            (request, {"id": 77, **span}),
            (permit, {**span, "token": b"t"}),
            *((audit, {"at": now, "entity": e, "entity_id": i}) for e, i in subjects),
        ],
        "SELECT count(*) FROM audit_log",
    )
    assert rows == [(5,)]

    command.upgrade(config, "head")
    found = run_sql(url, [], "SELECT entity, entity_id, site_id FROM audit_log ORDER BY id")
    assert [tuple(row) for row in found] == [
        ("usage_request", "77", "s-b"),
        ("device", "d-a", "s-a"),
        ("permit", "p-b", "s-b"),
        ("site", "s-a", "s-a"),
        ("device", "gone", None),
    ]
