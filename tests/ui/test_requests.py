import asyncio
import csv
import io
from datetime import timedelta
from typing import Any

from nicegui import ui

from app.domain.model import Role, Status, User
from app.services.container import Services
from app.services.policy import update_site_policy
from app.services.queries import get_request
from app.services.usage import request_usage
from tests.conftest import Clock
from tests.ui.conftest import SLOW, Person, sign_in
from tests.ui.console import OTHER_DRIVER, add_other_site

MANAGER = User("m1", "manager", "Mia Manager", Role.MANAGER)
UDO = User("u1", "user", "Udo Driver", Role.USER)
UMA = User("u2", "user2", "Uma Driver", Role.USER)


async def book(services: Services, clock: Clock) -> dict[str, list[str]]:
    """25 slots of Udo's and 2 of Uma's at the demo site, one at the other site."""
    await add_other_site(services)
    await update_site_policy(
        services,
        MANAGER,
        "site-1",
        opens_at=None,
        closes_at=None,
        max_duration=timedelta(hours=8),
        auto_approve_up_to=timedelta(hours=2),
        booking_horizon=timedelta(days=14),
        max_open_requests=100,
    )
    made: dict[str, list[str]] = {"u1": [], "u2": [], "other": []}
    start = clock.now + timedelta(hours=2)
    for n in range(25):
        asked = await request_usage(
            services, UDO, "ch-1", start + n * timedelta(hours=1), timedelta(minutes=30)
        )
        assert asked.request is not None
        made["u1"].append(asked.request.id)
    for n in range(2):
        asked = await request_usage(
            services, UMA, "ch-2", start + timedelta(days=n * 3), timedelta(hours=1)
        )
        assert asked.request is not None
        made["u2"].append(asked.request.id)
    asked = await request_usage(services, OTHER_DRIVER, "hx-1", start, timedelta(hours=1))
    assert asked.request is not None
    made["other"].append(asked.request.id)
    return made


async def open_requests(person: Person, demo: dict[str, Any]) -> Any:
    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    manager.find("Requests").click()
    await manager.should_see("Export CSV", retries=SLOW)
    return manager


def table(user: Any) -> Any:
    [found] = user.find(marker="requests").elements
    return found


async def test_the_sites_requests_are_paged_on_the_server_and_filtered(
    person: Person, demo: dict[str, Any], services: Services, clock: Clock
) -> None:
    made = await book(services, clock)
    manager = await open_requests(person, demo)
    requests = table(manager)
    assert requests.pagination["rowsNumber"] == 27  # not the other site's
    assert len(requests.rows) == 20
    assert requests.rows[0]["id"] == made["u2"][-1]  # newest first
    assert "(Europe/Berlin)" in requests.rows[0]["slot"]

    manager.find(marker="requests").trigger(
        "request", {"pagination": {"page": 2, "rowsPerPage": 20}}
    )
    await wait_for_rows(manager, 7)

    manager.find("Driver").click()
    manager.find("Uma Driver").click()
    await wait_for_rows(manager, 2)
    assert sorted(r["id"] for r in table(manager).rows) == sorted(made["u2"])

    day = (clock.now + timedelta(hours=2)).astimezone(
        __import__("zoneinfo").ZoneInfo("Europe/Berlin")
    )
    manager.find("From").type(f"{day:%Y-%m-%d}")
    manager.find("To").type(f"{day:%Y-%m-%d}")
    await wait_for_rows(manager, 1)
    assert [r["id"] for r in table(manager).rows] == made["u2"][:1]


async def test_the_filtered_rows_export_as_csv(
    person: Person, demo: dict[str, Any], services: Services, clock: Clock
) -> None:
    made = await book(services, clock)
    manager = await open_requests(person, demo)
    manager.find(kind=ui.select, content="Charger").click()
    manager.find("Bay 2").click()
    await wait_for_rows(manager, 2)
    manager.find("Export CSV").click()
    exported = (await manager.download.next(timeout=5)).content.decode()
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert sorted(row["request_id"] for row in rows) == sorted(made["u2"])
    assert {row["charger"] for row in rows} == {"Bay 2"}
    assert {row["driver"] for row in rows} == {"Uma Driver"}
    assert {row["timezone"] for row in rows} == {"Europe/Berlin"}


async def test_a_manager_revokes_an_approved_request_with_a_reason(
    person: Person, demo: dict[str, Any], services: Services, clock: Clock
) -> None:
    made = await book(services, clock)
    manager = await open_requests(person, demo)
    row = next(r for r in table(manager).rows if r["id"] == made["u1"][10])
    assert row["revocable"] and row["permit_id"]  # within 24 h: its permit is issued
    manager.find(marker="requests").trigger("revoke", row)
    manager.find("Reason").type("The bay is closed for repairs.")
    manager.find(marker="confirm-revoke").click()
    await manager.should_see(f"Revoked request {row['id']}.", retries=SLOW)
    revoked = await get_request(services, MANAGER, row["id"])
    assert revoked is not None and revoked.status is Status.REVOKED
    assert revoked.note == "The bay is closed for repairs."
    await wait_for(
        lambda: next(r for r in table(manager).rows if r["id"] == row["id"])["status"] == "Revoked"
    )

    later = next(r for r in table(manager).rows if r["id"] == made["u2"][-1])
    assert later["revocable"] and not later["permit_id"]  # days ahead: no permit yet
    manager.find(marker="requests").trigger("revoke", later)
    manager.find("Reason").type("Site closed that day.")
    manager.find(marker="confirm-revoke").click()
    await manager.should_see(f"Revoked request {later['id']}.", retries=SLOW)
    withdrawn = await get_request(services, MANAGER, later["id"])
    assert withdrawn is not None and withdrawn.status is Status.REVOKED


async def wait_for_rows(user: Any, count: int) -> None:
    await wait_for(lambda: len(table(user).rows) == count)


def status_of(user: Any, request_id: str) -> str:
    return str(next(r for r in table(user).rows if r["id"] == request_id)["status"])


async def wait_for(condition: Any) -> None:
    for _ in range(SLOW):
        if condition():
            return
        await asyncio.sleep(0.1)
    assert condition()
