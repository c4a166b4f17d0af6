from typing import Any

from nicegui import ui

from tests.ui.conftest import SLOW, Person, sign_in


async def test_the_chosen_days_taken_times_show_before_sending_and_follow_others_live(
    person: Person, demo: dict[str, Any]
) -> None:
    udo, uma = person(), person()
    await sign_in(udo, demo["user"]["login"], demo["user"]["password"], "/app")
    await sign_in(uma, demo["user2"]["login"], demo["user2"]["password"], "/app")
    await udo.should_see("Bay 1 is free all that day.", retries=SLOW)
    await uma.should_see("Bay 1 is free all that day.", retries=SLOW)

    udo.find(kind=ui.button, content="Request").click()
    await udo.should_see("Approved", retries=SLOW)
    await udo.should_see("Bay 1 is taken that day:", retries=SLOW)
    await uma.should_see("Bay 1 is taken that day:", retries=SLOW)  # without reload
    await uma.should_not_see("Your requests")  # Udo's requests are Udo's


async def test_a_driver_cancels_a_request_and_its_slot_frees_up(
    person: Person, demo: dict[str, Any]
) -> None:
    driver = person()
    await sign_in(driver, demo["user"]["login"], demo["user"]["password"], "/app")
    await driver.should_see("Start time", retries=SLOW)
    driver.find(kind=ui.button, content="Request").click()
    await driver.should_see("Approved", retries=SLOW)

    driver.find(marker="cancel").click()
    driver.find(marker="confirm-cancel").click()
    await driver.should_see("Cancelled", retries=SLOW)
    await driver.should_not_see(marker="cancel")
