from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui

from tests.conftest import Clock
from tests.ui.conftest import SLOW, Person, sign_in

BERLIN = ZoneInfo("Europe/Berlin")  # the demo site's zone


async def test_the_manager_approves_and_the_drivers_page_shows_approved_without_reload(
    person: Person, demo: dict[str, Any]
) -> None:
    driver, manager = person(), person()
    await sign_in(driver, demo["user"]["login"], demo["user"]["password"], "/app")
    await driver.should_see("Start time", retries=SLOW)
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    await manager.should_see("Waiting for a manager: 0", retries=SLOW)

    driver.find("Duration").click()
    driver.find("3 h").click()  # longer than the demo site approves by itself
    driver.find(kind=ui.button, content="Request").click()
    await driver.should_see("Waiting for a manager", retries=SLOW)
    await driver.should_see("Slots longer than 2 h need a manager's approval.")

    # The request appears on the open console, with who, what, when and why.
    await manager.should_see("Waiting for a manager: 1", retries=SLOW)
    await manager.should_see("Udo Driver · Bay 1 · Riverside Depot")
    await manager.should_see("(Europe/Berlin)")
    await manager.should_see("Why a manager: Slots longer than 2 h need a manager's approval.")
    manager.find("Approve").click()

    await driver.should_see("Approved", retries=SLOW)
    await driver.should_see(marker="permit-qr", retries=SLOW)
    await manager.should_see("Waiting for a manager: 0", retries=SLOW)


async def test_a_rejection_reaches_the_driver_with_its_reason(
    person: Person, demo: dict[str, Any]
) -> None:
    driver, manager = person(), person()
    await sign_in(driver, demo["user"]["login"], demo["user"]["password"], "/app")
    await driver.should_see("Start time", retries=SLOW)
    driver.find("Duration").click()
    driver.find("4 h").click()
    driver.find(kind=ui.button, content="Request").click()
    await driver.should_see("Waiting for a manager", retries=SLOW)

    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    await manager.should_see("Waiting for a manager: 1", retries=SLOW)
    manager.find(kind=ui.button, content="Reject").click()
    manager.find("Reason").type("The bay is closed for repairs.")
    manager.find(marker="confirm-reject").click()

    await driver.should_see("Rejected", retries=SLOW)
    await driver.should_see("Reason: The bay is closed for repairs.")
    await manager.should_see("Waiting for a manager: 0", retries=SLOW)


async def test_refusals_are_shown_in_words(person: Person, demo: dict[str, Any]) -> None:
    driver = person()
    await sign_in(driver, demo["user"]["login"], demo["user"]["password"], "/app")
    await driver.should_see("Start time", retries=SLOW)
    driver.find("Date").clear().type("2001-01-01")
    driver.find(kind=ui.button, content="Request").click()
    await driver.should_see("Not requested:", retries=SLOW)
    await driver.should_not_see("Your requests")

    driver.find("Start time").clear().type("9 o'clock")
    driver.find(kind=ui.button, content="Request").click()
    await driver.should_see("Write the date as YYYY-MM-DD and the start time as HH:MM.")


async def test_an_approved_request_days_ahead_says_from_when_its_permit_is_available(
    person: Person, demo: dict[str, Any], clock: Clock
) -> None:
    driver = person()
    await sign_in(driver, demo["user"]["login"], demo["user"]["password"], "/app")
    await driver.should_see("Start time", retries=SLOW)
    day = (clock.now + timedelta(days=3)).astimezone(BERLIN)
    driver.find("Date").clear().type(f"{day:%Y-%m-%d}")
    driver.find("Start time").clear().type("10:00")
    driver.find(kind=ui.button, content="Request").click()
    await driver.should_see("Approved", retries=SLOW)
    # From 24 h before the window: the same clock time a day earlier, unless a change of
    # summer time lies in between.
    starts_at = datetime.combine(day.date(), time(10), tzinfo=BERLIN)
    available = (starts_at - timedelta(hours=24)).astimezone(BERLIN)
    await driver.should_see(f"Permit available from {available:%Y-%m-%d %H:%M}", retries=SLOW)
    await driver.should_not_see(marker="permit-qr")
