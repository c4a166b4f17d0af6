"""The driver's phone and the charger: Send to charger, Stop charging, Sync with charger,
and the history they leave, with a real charger runtime answering the page's link calls."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nicegui import ui
from nicegui.testing import User

from app.domain import model
from app.domain.model import Status
from app.services import permit_keys
from app.services.container import Services
from app.services.permits import revoke_permit
from app.services.queries import list_requests, load_permits_by_id
from app.ui.driver.sync import upload_receipts
from device.battery import Battery
from device.protocol.keys import SigningKey, TrustList
from tests.ui.charger import LINK_CALL, MANAGER, ChargerAtHand
from tests.ui.conftest import SLOW, Person, sign_in

BERLIN = ZoneInfo("Europe/Berlin")  # the demo site's zone
LEAD = timedelta(minutes=10)  # well outside the charger's 60 s skew, whatever the hour
DRIVER = model.User("u1", "user", "Udo Driver", model.Role.USER)


@pytest.fixture
async def ch1(
    services: Services, demo: dict[str, Any], tmp_path: Path
) -> AsyncIterator[ChargerAtHand]:
    at_hand = ChargerAtHand(tmp_path / "ch-1", services)
    await at_hand.register(services)
    yield at_hand
    at_hand.close()


async def driver_with_a_permit(person: Person, demo: dict[str, Any], ch1: ChargerAtHand) -> User:
    """Signed in, with an approved hour whose window starts `LEAD` from the charger's now."""
    driver = person()
    driver.javascript_rules[LINK_CALL] = ch1.answer
    await sign_in(driver, demo["user"]["login"], demo["user"]["password"], "/app")
    await driver.should_see("Start time", retries=SLOW)
    start = datetime.fromtimestamp(ch1.clock.wall(), BERLIN) + LEAD
    driver.find("Date").clear().type(f"{start:%Y-%m-%d}")
    driver.find("Start time").clear().type(f"{start:%H:%M}")
    driver.find(kind=ui.button, content="Request").click()
    await driver.should_see("Approved", retries=SLOW)
    await driver.should_see(marker="permit-qr", retries=SLOW)
    return driver


def charge(ch1: ChargerAtHand, minutes: float) -> None:
    ch1.charger.set_vehicle(Battery(capacity_wh=60_000, energy_wh=12_000, max_power_w=11_000))
    ch1.clock.advance(minutes * 60)
    ch1.charger.tick()


async def test_send_to_charger_is_offered_only_for_an_approved_permit(
    person: Person, demo: dict[str, Any], ch1: ChargerAtHand
) -> None:
    driver = person()
    await sign_in(driver, demo["user"]["login"], demo["user"]["password"], "/app")
    await driver.should_see("Start time", retries=SLOW)
    driver.find("Duration").click()
    driver.find("3 h").click()  # waits for a manager
    driver.find(kind=ui.button, content="Request").click()
    await driver.should_see("Waiting for a manager", retries=SLOW)
    await driver.should_not_see("Send to charger")
    await asyncio.sleep(0.5)  # the page's own refresh and the request's event...
    assert len(driver.find("Your requests").elements) == 1  # ...draw the list once

    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    await manager.should_see("Waiting for a manager: 1", retries=SLOW)
    manager.find("Approve").click()
    await driver.should_see(marker="permit-qr", retries=SLOW)
    await driver.should_see("Send to charger")
    await driver.should_see("Stop charging")
    assert len(driver.find("Send to charger").elements) == 1


async def test_the_phone_sends_the_permit_stops_syncs_and_sees_its_history(
    person: Person, demo: dict[str, Any], ch1: ChargerAtHand, services: Services
) -> None:
    driver = await driver_with_a_permit(person, demo, ch1)
    driver.find("Send to charger").click()  # before the window: the charger says why not
    await driver.should_see(
        "The charger refused the permit: The permit's window has not started yet.", retries=SLOW
    )

    ch1.clock.advance(LEAD.total_seconds())  # the window has begun
    driver.find("Send to charger").click()
    await driver.should_see("The charger accepted the permit.", retries=SLOW)
    assert ch1.charger.info()["active_permit"] is not None
    charge(ch1, 20)
    assert ch1.charger.relay_closed

    driver.find("Stop charging").click()  # with the holder secret the browser kept
    await driver.should_see("Charging stopped.", retries=SLOW)
    assert ch1.charger.info()["unsent_receipts"] == 1
    energy_wh = ch1.charger.info()["last_stop"]["energy_wh"]

    driver.find("Sync with charger").click()
    await driver.should_see(f"1 receipt uploaded · {energy_wh / 1000:.2f} kWh", retries=SLOW)
    await driver.should_see("The charger let go of 1 receipt the server now holds.")
    await driver.should_see("The charger holds the newest revocation list (0).")
    # Commissioned from the published keys, it holds no trust list yet: it gets the server's.
    await driver.should_see("Trust list 0 handed to the charger: it now trusts 1 server key.")
    assert ch1.charger.info()["unsent_receipts"] == 0  # the real device took the server's word
    await driver.should_see("Completed", retries=SLOW)
    await driver.should_see("History", retries=SLOW)
    await driver.should_see(f"Bay 1 · {energy_wh / 1000:.2f} kWh")
    await driver.should_see("Ended: stopped from the phone")
    assert ch1.calls.count("receipts") == 1


async def test_sync_hands_the_charger_a_newer_revocation_list_and_frees_the_slot(
    person: Person, demo: dict[str, Any], ch1: ChargerAtHand, services: Services
) -> None:
    driver = await driver_with_a_permit(person, demo, ch1)
    [request] = (
        await list_requests(services, DRIVER, status=None, first=1, after_id=None)
    ).requests
    assert request.permit_id is not None
    await revoke_permit(services, MANAGER, request.permit_id, "The bay is closed.")
    await driver.should_see("Revoked", retries=SLOW)

    driver.find("Sync with charger").click()
    await driver.should_see("0 receipts uploaded · 0.00 kWh", retries=SLOW)
    await driver.should_see("Revocation list 1 handed to the charger.", retries=SLOW)
    assert ch1.charger.info()["revocation_sequence"] == 1
    # The charger's signed confirmation came back: the withdrawn permit's slot is free.
    [after] = (await list_requests(services, DRIVER, status=None, first=1, after_id=None)).requests
    assert after.status is Status.REVOKED and not after.revocation_pending

    driver.find("Sync with charger").click()
    await driver.should_see("The charger holds the newest revocation list (1).", retries=SLOW)


async def test_after_a_key_rotation_sync_teaches_the_charger_the_new_key(
    person: Person, demo: dict[str, Any], ch1: ChargerAtHand, services: Services
) -> None:
    ring = permit_keys.rotate_keys(services, services.clock())  # the next permit: a new key
    driver = await driver_with_a_permit(person, demo, ch1)
    ch1.clock.advance(LEAD.total_seconds())
    driver.find("Send to charger").click()
    await driver.should_see(
        "The charger refused the permit: The charger does not know the server's key: its "
        "trust list needs an update.",
        retries=SLOW,
    )

    driver.find("Sync with charger").click()
    await driver.should_see(
        f"Trust list {ring.sequence} handed to the charger: it now trusts 2 server keys.",
        retries=SLOW,
    )
    assert ch1.charger.info()["trust_sequence"] == ring.sequence
    driver.find("Send to charger").click()
    await driver.should_see("The charger accepted the permit.", retries=SLOW)

    driver.find("Sync with charger").click()
    await driver.should_see(
        f"The charger holds the newest trust list ({ring.sequence}).", retries=SLOW
    )
    assert ch1.calls.count("trust") == 1


async def test_a_charger_that_trusts_none_of_the_servers_keys_keeps_its_trust_list(
    person: Person, demo: dict[str, Any], services: Services, tmp_path: Path
) -> None:
    stranger = TrustList([SigningKey.generate().public_key])  # all it trusted was pruned
    lost = ChargerAtHand(tmp_path / "ch-1", services, trust=stranger)
    await lost.register(services)
    try:
        driver = person()
        driver.javascript_rules[LINK_CALL] = lost.answer
        await sign_in(driver, demo["user"]["login"], demo["user"]["password"], "/app")
        await driver.should_see("Sync with charger", retries=SLOW)
        driver.find("Sync with charger").click()
        await driver.should_see(
            "Trust list 0 refused: The charger trusts none of the server's keys: a manager "
            "must set it up again.",
            retries=SLOW,
        )
        info = lost.charger.info()
        assert info["trust_sequence"] is None and len(info["trusted_keys"]) == 1
    finally:
        lost.close()


async def test_a_charger_that_does_not_answer_is_said_in_words(
    person: Person, demo: dict[str, Any], ch1: ChargerAtHand
) -> None:
    driver = await driver_with_a_permit(person, demo, ch1)
    silent = {"ok": False, "status": 0, "answer": {"reason": "unreachable", "message": "offline"}}
    driver.javascript_rules[LINK_CALL] = lambda _: silent
    driver.find("Send to charger").click()
    await driver.should_see(
        "The charger refused the permit: The charger did not answer: are you next to it, "
        "on its network?",
        retries=SLOW,
    )
    driver.find("Sync with charger").click()
    await driver.should_see("Not synced: The charger did not answer", retries=SLOW)


async def test_uploading_stores_receipts_and_the_acknowledgement_satisfies_the_device(
    services: Services, demo: dict[str, Any], ch1: ChargerAtHand, person: Person
) -> None:
    driver = await driver_with_a_permit(person, demo, ch1)
    [request] = (
        await list_requests(services, DRIVER, status=None, first=1, after_id=None)
    ).requests
    assert request.permit_id is not None
    [permit] = await load_permits_by_id(services, [request.permit_id])
    assert permit is not None
    ch1.clock.advance(LEAD.total_seconds())
    assert ch1.charger.present_permit(permit.token).reason is None
    charge(ch1, 15)
    ch1.clock.advance(60 * 60)  # past the window's end: the charger stops and signs
    ch1.charger.tick()
    tokens = [item["token"] for item in ch1.charger.receipts()]
    assert len(tokens) == 1

    uploaded = await upload_receipts(services, [*tokens, 42, "not a receipt"])
    assert uploaded.stored == 1 and uploaded.refused == 1 and uploaded.energy_wh > 0
    again = await upload_receipts(services, tokens)  # a retry stores nothing twice...
    assert again.stored == 0 and again.acknowledgements  # ...and is acknowledged all the same
    assert ch1.charger.ack_receipts(uploaded.acknowledgements[0].encode()) == 1
    assert ch1.charger.receipts() == []
    await driver.should_see("Completed", retries=SLOW)
