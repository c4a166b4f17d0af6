"""The console's charts: the timeline's slots and the energy from stored receipts."""

import time
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui

from app.domain.model import Role, User
from app.services.container import Services
from app.services.devices import register_device
from app.services.receipts import ReceiptStatus, submit_receipts
from app.services.usage import request_usage
from app.ui.manage.timeline import wall_ms
from device.protocol import SigningKey
from device.protocol.keys import b64url, raw_public
from device.protocol.possession import prove_possession
from device.protocol.receipt import Receipt, encode_receipt
from tests.conftest import Clock
from tests.ui.conftest import SLOW, Person, eventually, sign_in
from tests.ui.console import OTHER_DRIVER, add_other_site

BERLIN = ZoneInfo("Europe/Berlin")
MANAGER = User("m1", "manager", "Mia Manager", Role.MANAGER)
UDO = User("u1", "user", "Udo Driver", Role.USER)


def series(user: Any, marker: str) -> dict[str, list[Any]]:
    [chart] = user.find(marker=marker).elements
    return {s["name"]: s["data"] for s in chart.options["series"]}


async def test_the_timeline_shows_each_chargers_approved_and_waiting_slots_live(
    person: Person, demo: dict[str, Any], services: Services, clock: Clock
) -> None:
    await add_other_site(services)
    start = clock.now + timedelta(hours=1)
    approved = await request_usage(services, UDO, "ch-1", start, timedelta(hours=1))
    waiting = await request_usage(services, UDO, "ch-2", start, timedelta(hours=3))
    foreign = await request_usage(services, OTHER_DRIVER, "hx-1", start, timedelta(hours=1))
    assert approved.request and waiting.request and foreign.request

    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    manager.find("Timeline").click()
    await manager.should_see(marker="timeline", retries=SLOW)
    await manager.should_see("Times in Europe/Berlin time.")
    manager.find("Days").click()
    manager.find("3 days").click()  # today's slot may lie past midnight
    await eventually(lambda: len(series(manager, "timeline")["Approved"]) == 1)

    shown = series(manager, "timeline")
    [bar] = shown["Approved"]
    assert bar["request_id"] == approved.request.id
    assert bar["value"] == [0, wall_ms(start, BERLIN), wall_ms(start + timedelta(hours=1), BERLIN)]
    assert [b["value"][0] for b in shown["Waiting for a manager"]] == [1]  # Bay 2's row
    every_id = [b["request_id"] for data in shown.values() for b in data]
    assert foreign.request.id not in every_id

    later = await request_usage(services, UDO, "ch-3", start, timedelta(minutes=30))
    assert later.request is not None
    await eventually(lambda: len(series(manager, "timeline")["Approved"]) == 2)  # live


async def test_the_usage_chart_carries_the_energy_of_a_stored_receipt(
    person: Person, demo: dict[str, Any], services: Services, clock: Clock
) -> None:
    key = SigningKey.generate()
    proof = b64url(prove_possession("ch-1", key, int(time.time())))
    public_key = b64url(raw_public(key.public_key))
    await register_device(services, MANAGER, "ch-1", "Bay 1", "site-1", public_key, proof)
    start = clock.now + timedelta(minutes=10)
    asked = await request_usage(services, UDO, "ch-1", start, timedelta(hours=1))
    assert asked.request is not None and asked.permit is not None

    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    manager.find(kind=ui.link, content="Usage").click()
    await manager.should_see(marker="energy-per-day", retries=SLOW)
    assert sum(series(manager, "energy-per-charger")["Energy"]) == 0

    receipt = Receipt(
        device_id="ch-1",
        permit_id=bytes.fromhex(asked.permit.id),
        counter=1,
        started_at=int(start.timestamp()),
        stopped_at=int((start + timedelta(minutes=50)).timestamp()),
        energy_wh=5000.0,
        stop_reason="window_end",
        request_id=asked.request.id,
    )
    [outcome] = await submit_receipts(services, [b64url(encode_receipt(receipt, key))])
    assert outcome.status is ReceiptStatus.ACCEPTED

    await eventually(lambda: series(manager, "energy-per-charger")["Energy"] == [5.0, 0, 0])
    per_day = series(manager, "energy-per-day")
    assert sum(per_day["Bay 1"]) == 5.0 and sum(per_day["Bay 2"]) == 0
    [chart] = manager.find(marker="energy-per-day").elements
    day = start.astimezone(BERLIN).date().isoformat()
    assert per_day["Bay 1"][chart.options["xAxis"]["data"].index(day)] == 5.0
