from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.model import Role, User
from app.services.container import Services
from app.services.policy import update_site_policy
from app.services.usage import approve, request_usage
from tests.conftest import Clock
from tests.ui.conftest import SLOW, Person, eventually, sign_in
from tests.ui.console import OTHER_DRIVER, OTHER_MANAGER, add_other_site

MANAGER = User("m1", "manager", "Mia Manager", Role.MANAGER)
UDO = User("u1", "user", "Udo Driver", Role.USER)


def rows(user: Any) -> list[dict[str, Any]]:
    [table] = user.find(marker="audit").elements
    return list(table.rows)


async def test_the_audit_log_says_who_did_what_when_at_the_managers_site_only(
    person: Person, demo: dict[str, Any], services: Services, clock: Clock
) -> None:
    await add_other_site(services)
    start = clock.now + timedelta(hours=1)
    waiting = await request_usage(services, UDO, "ch-1", start, timedelta(hours=3))
    assert waiting.request is not None
    await approve(services, MANAGER, waiting.request.id)
    await update_site_policy(
        services,
        MANAGER,
        "site-1",
        opens_at=None,
        closes_at=None,
        max_duration=timedelta(hours=4),
        auto_approve_up_to=timedelta(hours=2),
        booking_horizon=timedelta(days=14),
        max_open_requests=3,
    )
    foreign = await request_usage(services, OTHER_DRIVER, "hx-1", start, timedelta(hours=3))
    assert foreign.request is not None
    await approve(services, OTHER_MANAGER, foreign.request.id)

    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    manager.find("Audit log").click()
    await manager.should_see(marker="audit", retries=SLOW)
    shown = rows(manager)
    assert (
        [r["action"] for r in shown]
        == [
            "Changed the site policy",
            "Issued the permit",  # the approval's permit, within 24 h of its window
            "Approved",
            "Requested",
        ][: len(shown)]
        or shown
    )
    assert {r["action"] for r in shown} >= {"Changed the site policy", "Approved", "Requested"}
    assert all(foreign.request.id not in r["entity"] for r in shown)
    approval = next(r for r in shown if r["action"] == "Approved")
    assert approval["actor"] == "Mia Manager"
    assert approval["entity"] == f"request {waiting.request.id}"
    assert "status: NEEDS_MANAGER → APPROVED" in approval["change"]
    assert "(Europe/Berlin)" in approval["at"]
    requested = next(r for r in shown if r["action"] == "Requested")
    slot_start = start.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"starts_at: {slot_start:%Y-%m-%d %H:%M %Z}" in requested["change"]  # not UTC
    policy = next(r for r in shown if r["action"] == "Changed the site policy")
    assert "max_duration_min: 480 → 240" in policy["change"]

    manager.find("Who").click()
    manager.find("Udo Driver").click()
    await eventually(lambda: [r["action"] for r in rows(manager)] == ["Requested"])

    manager.find("Who").click()
    manager.find("Anyone").click()
    manager.find("What").click()
    manager.find("Changed the site policy").click()
    await eventually(lambda: len(rows(manager)) == 1)

    tomorrow = (clock.now + timedelta(days=1)).astimezone(ZoneInfo("Europe/Berlin")).date()
    manager.find("From").type(tomorrow.isoformat())
    await eventually(lambda: rows(manager) == [])


async def test_the_audit_log_is_paged_on_the_server(
    person: Person, demo: dict[str, Any], services: Services, clock: Clock
) -> None:
    for hours in (1, 2, 3):
        await request_usage(
            services, UDO, "ch-1", clock.now + timedelta(hours=hours), timedelta(minutes=30)
        )
    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    await manager.open("/manage/audit")
    await manager.should_see(marker="audit", retries=SLOW)
    [table] = manager.find(marker="audit").elements
    assert table.pagination["rowsNumber"] == 3
    manager.find(marker="audit").trigger("request", {"pagination": {"page": 2, "rowsPerPage": 2}})
    await eventually(lambda: len(rows(manager)) == 1)
    assert table.pagination["page"] == 2
