"""No sequence of driver (or manager) actions makes a revocation list too big for a charger.

The flood that broke it: one driver alternating requestUsage and cancelUsageRequest over
the shortest slots, each cancel revoking an issued permit, until the list passed the
16 KiB the charger accepts and no revocation reached it again. Now a permit exists only
within PERMIT_LEAD of its window and a withdrawn permit holds its slot until the window
has passed, so a device's list names at most PERMIT_LEAD / MIN_DURATION + 1 permits.
"""

import secrets
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from app.domain.model import Slot, Status, UsageRequest, User
from app.domain.permits import PERMIT_LEAD
from app.domain.rules import MIN_DURATION
from app.services import permits, usage
from app.services.container import Services
from app.store.permits import Permits
from app.store.repositories import Devices, Users
from app.store.requests import UsageRequests
from device.protocol.revocation import MAX_REVOCATION_LIST_SIZE
from device.runtime import Charger
from tests.conftest import Clock
from tests.services.conftest import DEVICE

# Ids a device's list can name at once: windows that do not overlap, each at least
# MIN_DURATION long, all ending after now and starting before now + PERMIT_LEAD.
BOUND = PERMIT_LEAD // MIN_DURATION + 1
CYCLES = 1300  # before the fix ~950 cancelled permits filled 16 KiB; this goes past that
HORIZON = timedelta(days=14)  # the demo site's booking horizon


class Carrier:
    """A phone fetching the device's current list and presenting it whenever it is new."""

    def __init__(self, services: Services, charger: Charger, anyone: User) -> None:
        self.services, self.charger, self.anyone = services, charger, anyone
        self.sequence = 0
        self.most_ids = self.most_bytes = 0

    async def carry(self) -> None:
        signed = await permits.revocation_list(self.services, self.anyone, DEVICE)
        self.most_ids = max(self.most_ids, len(signed.permit_ids))
        self.most_bytes = max(self.most_bytes, len(signed.token))
        if signed.sequence == self.sequence:
            return
        applied = self.charger.apply_revocations(signed.token)
        assert applied.get("accepted") is True, (len(signed.permit_ids), applied)
        self.sequence = signed.sequence


async def users(services: Services) -> dict[str, User]:
    def work(conn: Any) -> dict[str, User]:
        found = {user_id: Users(conn).get(user_id) for user_id in ("u1", "u2", "m1")}
        return {user_id: user for user_id, user in found.items() if user is not None}

    return await services.db.read(work)


async def test_a_request_cancel_flood_and_manager_revocations_never_overfill_a_list(
    services: Services, demo: dict[str, Any], clock: Clock, charger: Charger
) -> None:
    people = await users(services)
    driver, other, manager = people["u1"], people["u2"], people["m1"]
    carrier = Carrier(services, charger, driver)
    cursor = clock.now + timedelta(minutes=1)
    revoked_by_cancel = 0

    for cycle in range(CYCLES):
        # The driver: the next shortest slot, asked for and cancelled at once.
        asked = await usage.request_usage(services, driver, DEVICE, cursor, MIN_DURATION)
        if asked.request is not None:
            await usage.cancel(services, driver, asked.request.id)
            revoked_by_cancel += asked.permit is not None
        cursor += MIN_DURATION
        if cursor > clock.now + HORIZON - MIN_DURATION:
            cursor = clock.now + timedelta(minutes=1)  # and round again

        if cycle % 100 == 50:  # a manager revokes another driver's permit inside the lead
            await revoke_the_next_free_slot(services, clock, other, manager)
        if cycle % 100 == 99:
            await carrier.carry()
        if cycle % 400 == 399:  # hours pass; the sweep runs
            clock.advance(timedelta(hours=4))
            charger.tick()
            await usage.expire_overdue(services)
            await usage.issue_due_permits(services)
            cursor = clock.now + timedelta(minutes=1)  # and at the slots that entered the lead
    await carrier.carry()

    print(
        f"\nflood: {CYCLES} cycles, {revoked_by_cancel} permits revoked by cancelling; "
        f"largest list {carrier.most_ids} ids, {carrier.most_bytes} B "
        f"(bound {BOUND} ids, charger limit {MAX_REVOCATION_LIST_SIZE} B)"
    )
    assert carrier.most_ids <= BOUND
    assert carrier.most_bytes <= MAX_REVOCATION_LIST_SIZE


async def revoke_the_next_free_slot(
    services: Services, clock: Clock, driver: User, manager: User
) -> None:
    start = clock.now + timedelta(minutes=1)
    while start < clock.now + PERMIT_LEAD:
        asked = await usage.request_usage(services, driver, DEVICE, start, MIN_DURATION)
        if asked.permit is not None:
            await permits.revoke_permit(services, manager, asked.permit.id, "test")
            return
        start += MIN_DURATION


async def test_the_longest_list_the_lead_allows_fits_the_charger(
    services: Services, clock: Clock, charger: Charger
) -> None:
    ids = [secrets.token_hex(16) for _ in range(BOUND)]
    token = services.signer.revocation_list(DEVICE, 1, ids, clock.now)
    print(f"\nlongest possible list: {BOUND} ids, {len(token)} B")
    assert len(token) <= MAX_REVOCATION_LIST_SIZE // 4  # ample headroom, not a near miss
    assert charger.apply_revocations(token)["accepted"] is True


async def test_a_list_the_charger_would_refuse_is_never_handed_out(
    services: Services, demo: dict[str, Any], clock: Clock
) -> None:
    """Should the bound ever break (rows written around the use cases here), the server
    refuses to hand out the list rather than sign one no charger takes."""
    people = await users(services)
    now = clock.now

    def revoked_far_more_than_the_bound(conn: Any) -> None:
        for n in range(1000):
            start = now + timedelta(hours=1) + MIN_DURATION * n
            slot = Slot(start, start + MIN_DURATION)
            request = UsageRequest("", "u1", DEVICE, "site-1", slot, Status.CANCELLED, now)
            request = replace(request, id=UsageRequests(conn).add(request))
            device = Devices(conn).get(DEVICE)
            assert device is not None
            permit = services.signer.issue(request, device, now)
            Permits(conn).add(replace(permit, revoked_at=now, revoked_in_sequence=1))

    await services.db.write(revoked_far_more_than_the_bound)
    with pytest.raises(permits.RevocationListTooLarge):
        await permits.revocation_list(services, people["u1"], DEVICE)
