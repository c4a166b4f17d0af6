from datetime import timedelta
from typing import Any

from nicegui import ui

from app.domain.model import Role, Status, User
from app.services.container import Services
from app.services.usage import request_usage
from app.store.audit import AuditLog
from tests.conftest import Clock
from tests.ui.conftest import SLOW, Person, sign_in

DRIVER = User("u1", "user", "Udo Driver", Role.USER)


async def test_a_policy_change_is_audited_and_judges_the_next_request(
    person: Person, demo: dict[str, Any], services: Services, clock: Clock
) -> None:
    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    manager.find("Site policy").click()
    await manager.should_see("Policy of Riverside Depot", retries=SLOW)
    await manager.should_see("Times are Europe/Berlin time.")

    manager.find("Maximum duration (minutes)").clear().type("60")
    manager.find("Automatic approval up to (minutes)").clear().type("30")
    manager.find(kind=ui.button, content="Save").click()
    await manager.should_see("applies from the next request", retries=SLOW)

    starts_at = clock.now + timedelta(hours=1)
    too_long = await request_usage(services, DRIVER, "ch-1", starts_at, timedelta(hours=2))
    assert too_long.request is None
    assert "Slots are limited to 1 h here." in [r.message for r in too_long.decision.reasons]
    waits = await request_usage(services, DRIVER, "ch-1", starts_at, timedelta(minutes=45))
    assert waits.request is not None and waits.request.status is Status.NEEDS_MANAGER

    [change] = await services.db.read(lambda c: AuditLog(c).for_entity("site", "site-1"))
    assert change["actor_id"] == "m1" and change["action"] == "update_site_policy"
    assert change["before"]["max_duration_min"] == 8 * 60
    assert change["after"]["max_duration_min"] == 60
    assert change["after"]["auto_approve_min"] == 30


async def test_invalid_values_are_refused_in_words_and_nothing_changes(
    person: Person, demo: dict[str, Any], services: Services
) -> None:
    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    await manager.open("/manage/policy")
    await manager.should_see("Policy of Riverside Depot", retries=SLOW)

    manager.find("Opens at").clear().type("7 am")
    manager.find(kind=ui.button, content="Save").click()
    await manager.should_see("Write opening hours as HH:MM, e.g. 07:30.", retries=SLOW)

    manager.find("Opens at").clear().type("07:00")
    manager.find("Automatic approval up to (minutes)").clear().type("600")
    manager.find("Open requests per driver").clear().type("0")
    manager.find(kind=ui.button, content="Save").click()
    await manager.should_see("Not saved:", retries=SLOW)
    await manager.should_see("Give both the opening and the closing time")
    await manager.should_see("The automatic-approval limit must lie between 0")
    await manager.should_see("Open requests per driver must lie between 1 and 100.")
    assert await services.db.read(lambda c: AuditLog(c).for_entity("site", "site-1")) == []
