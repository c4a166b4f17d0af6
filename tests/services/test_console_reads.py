"""The manager console's reads on both engines: each keeps to the manager's own sites."""

import time
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.domain.model import Role, Status, User
from app.services.audit_trail import SERVER, AuditQuery, audit_trail
from app.services.chargers import chargers
from app.services.container import Services
from app.services.devices import register_device
from app.services.energy import energy_use
from app.services.errors import NotFound
from app.services.permits import revoke_permit
from app.services.policy import PolicyRefused, update_site_policy
from app.services.receipts import submit_receipts
from app.services.request_search import RequestQuery, all_requests, find_requests
from app.services.timeline import site_timeline
from app.services.usage import request_usage
from device.protocol import SigningKey
from device.protocol.keys import b64url, key_id, raw_public
from device.protocol.possession import prove_possession
from device.protocol.receipt import Receipt, encode_receipt
from tests.conftest import Clock
from tests.ui.console import OTHER_DRIVER, OTHER_MANAGER, add_other_site

BERLIN = ZoneInfo("Europe/Berlin")
MIA = User("m1", "manager", "Mia Manager", Role.MANAGER)
UDO = User("u1", "user", "Udo Driver", Role.USER)
UMA = User("u2", "user2", "Uma Driver", Role.USER)


@pytest.fixture
async def activity(services: Services, demo: dict[str, Any], clock: Clock) -> dict[str, Any]:
    """Two sites: at Mia's, a charger with a key, three requests and a receipt; at the
    other, one request."""
    await add_other_site(services)
    key = SigningKey.generate()
    proof = b64url(prove_possession("ch-1", key, int(time.time())))
    await register_device(
        services, MIA, "ch-1", "Bay 1", "site-1", b64url(raw_public(key.public_key)), proof
    )
    start = clock.now + timedelta(minutes=10)
    first = await request_usage(services, UDO, "ch-1", start, timedelta(hours=1))
    second = await request_usage(services, UMA, "ch-2", start, timedelta(hours=3))
    third = await request_usage(
        services, UDO, "ch-3", start + timedelta(days=2), timedelta(hours=1)
    )
    foreign = await request_usage(services, OTHER_DRIVER, "hx-1", start, timedelta(hours=1))
    assert first.permit and second.request and third.request and foreign.request
    receipt = Receipt(
        "ch-1",
        bytes.fromhex(first.permit.id),
        1,
        int(start.timestamp()),
        int((start + timedelta(minutes=40)).timestamp()),
        7250.0,
        "window_end",
        first.permit.request_id,
    )
    await submit_receipts(services, [b64url(encode_receipt(receipt, key))])
    return {"key": key, "start": start, "first": first, "second": second, "third": third}


async def test_requests_are_found_by_filter_and_counted(
    services: Services, activity: dict[str, Any]
) -> None:
    everything = await find_requests(services, MIA, RequestQuery("site-1"), offset=0, limit=2)
    assert everything.total == 3 and len(everything.rows) == 2
    assert everything.rows[0].request.id == activity["third"].request.id  # newest first
    assert everything.rows[0].driver_name == "Udo Driver"
    assert everything.rows[0].device_name == "Bay 3"

    waiting = RequestQuery("site-1", status=Status.NEEDS_MANAGER.value)
    assert [r.request.id for r in (await all_requests(services, MIA, waiting)).rows] == [
        activity["second"].request.id
    ]
    by_udo = await all_requests(services, MIA, RequestQuery("site-1", driver_id="u1"))
    assert by_udo.total == 2
    on_bay_3 = await all_requests(services, MIA, RequestQuery("site-1", device_id="ch-3"))
    assert on_bay_3.total == 1
    day = activity["start"].astimezone(BERLIN).date()
    that_day = RequestQuery("site-1", first_day=day, last_day=day)
    assert (await all_requests(services, MIA, that_day)).total == 2
    assert (await all_requests(services, MIA, RequestQuery("site-1", last_day=date.max))).total == 3


async def test_a_manager_sees_no_other_sites_requests_timeline_energy_or_audit(
    services: Services, activity: dict[str, Any]
) -> None:
    today = activity["start"].astimezone(BERLIN).date()
    for read in (
        find_requests(services, MIA, RequestQuery("site-2"), offset=0, limit=10),
        site_timeline(services, MIA, "site-2", today, 1),
        energy_use(services, MIA, "site-2", today, 1),
        audit_trail(services, MIA, AuditQuery("site-2"), offset=0, limit=10),
        find_requests(services, UDO, RequestQuery("site-1"), offset=0, limit=10),
    ):
        with pytest.raises(NotFound):
            await read
    theirs = await find_requests(services, OTHER_MANAGER, RequestQuery("site-2"), offset=0, limit=9)
    assert theirs.total == 1
    assert [c.device.id for c in await chargers(services, MIA)] == ["ch-1", "ch-2", "ch-3"]


async def test_the_timeline_holds_the_slots_that_overlap_its_days(
    services: Services, activity: dict[str, Any]
) -> None:
    today = activity["start"].astimezone(BERLIN).date()
    timeline = await site_timeline(services, MIA, "site-1", today - timedelta(days=1), 2)
    shown = {slot.request.id: slot for slot in timeline.slots}
    assert activity["third"].request.id not in shown  # two days later
    assert shown[activity["second"].request.id].request.status is Status.NEEDS_MANAGER
    assert [d.id for d in timeline.devices] == ["ch-1", "ch-2", "ch-3"]

    assert activity["first"].request.id not in shown  # completed: it holds no slot now

    withdrawn = await request_usage(services, UMA, "ch-3", activity["start"], timedelta(hours=1))
    assert withdrawn.permit is not None and withdrawn.request is not None
    await revoke_permit(services, MIA, withdrawn.permit.id, "closed")
    timeline = await site_timeline(services, MIA, "site-1", today - timedelta(days=1), 2)
    held = next(slot for slot in timeline.slots if slot.request.id == withdrawn.request.id)
    assert held.request.status is Status.REVOKED and held.request.revocation_pending


async def test_energy_is_summed_per_charger_and_local_day_and_chargers_show_their_last_word(
    services: Services, activity: dict[str, Any], clock: Clock
) -> None:
    today = activity["start"].astimezone(BERLIN).date()
    use = await energy_use(services, MIA, "site-1", today - timedelta(days=6), 7)
    assert use.days[-1] == today
    assert use.wh["ch-1"][-1] == 7250.0
    assert sum(use.wh["ch-2"]) == 0

    bay_1 = next(c for c in await chargers(services, MIA) if c.device.id == "ch-1")
    assert bay_1.last_receipt_at == clock.now
    assert bay_1.key_id == b64url(key_id(activity["key"].public_key))
    assert bay_1.revocation_sequence == 0 and bay_1.timezone == "Europe/Berlin"


async def test_the_audit_trail_filters_by_actor_action_and_day(
    services: Services, activity: dict[str, Any], clock: Clock
) -> None:
    everything = await audit_trail(services, MIA, AuditQuery("site-1"), offset=0, limit=100)
    actions = [entry.action for entry in everything.entries]
    assert actions == ["receipt", "request", "request", "request", "register_device"]
    assert everything.total == 5
    by_server = await audit_trail(services, MIA, AuditQuery("site-1", SERVER), offset=0, limit=9)
    assert [e.action for e in by_server.entries] == ["receipt"]
    by_mia = await audit_trail(services, MIA, AuditQuery("site-1", "m1"), offset=0, limit=9)
    assert [(e.action, e.actor_name) for e in by_mia.entries] == [
        ("register_device", "Mia Manager")
    ]
    requests = await audit_trail(
        services, MIA, AuditQuery("site-1", action="request"), offset=1, limit=1
    )
    assert requests.total == 3 and len(requests.entries) == 1
    tomorrow = clock.now.astimezone(BERLIN).date() + timedelta(days=1)
    later = await audit_trail(
        services, MIA, AuditQuery("site-1", first_day=tomorrow), offset=0, limit=9
    )
    assert later.total == 0


async def test_a_policy_change_is_refused_whole_or_saved_and_audited(
    services: Services, activity: dict[str, Any]
) -> None:
    with pytest.raises(PolicyRefused) as refused:
        await update_site_policy(
            services,
            MIA,
            "site-1",
            opens_at=None,
            closes_at=None,
            max_duration=timedelta(minutes=5),
            auto_approve_up_to=timedelta(hours=1),
            booking_horizon=timedelta(days=0),
            max_open_requests=3,
        )
    assert {r.code for r in refused.value.reasons} == {
        "max_duration_out_of_range",
        "auto_approve_out_of_range",
        "horizon_out_of_range",
    }
    with pytest.raises(NotFound):
        await update_site_policy(
            services,
            OTHER_MANAGER,
            "site-1",
            opens_at=None,
            closes_at=None,
            max_duration=timedelta(hours=1),
            auto_approve_up_to=timedelta(hours=1),
            booking_horizon=timedelta(days=1),
            max_open_requests=3,
        )
    changes = await audit_trail(
        services, MIA, AuditQuery("site-1", action="update_site_policy"), offset=0, limit=9
    )
    assert changes.total == 0
