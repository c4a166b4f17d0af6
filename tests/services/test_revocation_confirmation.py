"""A charger's signed confirmation frees a withdrawn permit's slot before its window passes.

The charger answers an applied revocation list with (device id, sequence) signed by its own
key; the phone carries it back (`confirmRevocations`). Only then, or once the window has
passed, may the slot go to someone else, and later lists leave those ids off: the charger
keeps every id it was sent.
"""

from datetime import timedelta
from typing import Any

import pytest

from app.domain.model import User
from app.services import permits, usage
from app.services.container import Services
from app.services.errors import Invalid
from app.store.repositories import Devices, Users
from device.protocol import SigningKey
from device.protocol.keys import b64url, b64url_decode, raw_public
from device.protocol.revocation import RevocationConfirmation, encode_confirmation
from device.runtime import Charger
from tests.conftest import Clock, GraphQLClient
from tests.services.conftest import DEVICE

CONFIRM = """
mutation ($device: ID!, $confirmation: String!) {
  confirmRevocations(deviceId: $device, confirmation: $confirmation) {
    __typename
    ... on RevocationsConfirmed { deviceId sequence released { id status } }
    ... on NotFound { message }
    ... on InvalidInput { message }
  }
}
"""


@pytest.fixture
async def people(services: Services, demo: dict[str, Any], charger: Charger) -> dict[str, User]:
    """The demo's people, with ch-1 commissioned with the charger's key."""
    device_key = raw_public(charger.config.key.public_key)

    def work(conn: Any) -> dict[str, User]:
        Devices(conn).set_public_key(DEVICE, device_key)
        found = {user_id: Users(conn).get(user_id) for user_id in ("u1", "u2", "m1")}
        return {user_id: user for user_id, user in found.items() if user is not None}

    return await services.db.write(work)


async def test_a_confirmed_revocation_frees_the_slot_and_leaves_later_lists(
    services: Services, people: dict[str, User], clock: Clock, charger: Charger
) -> None:
    driver, other, manager = people["u1"], people["u2"], people["m1"]
    start, hour = clock.now + timedelta(hours=1), timedelta(hours=1)
    first = await usage.request_usage(services, driver, DEVICE, start, hour)
    assert first.request is not None and first.permit is not None
    await usage.cancel(services, driver, first.request.id)
    held = await usage.request_usage(services, other, DEVICE, start, hour)
    assert [r.code for r in held.decision.reasons] == ["slot_held_by_revoked_permit"]

    signed = await permits.revocation_list(services, driver, DEVICE)
    applied = charger.apply_revocations(signed.token)
    assert applied["accepted"] is True
    confirmed = await permits.confirm_revocations(services, DEVICE, applied["confirmation"])
    assert confirmed.sequence == signed.sequence
    assert [r.id for r in confirmed.released] == [first.request.id]
    again = await permits.confirm_revocations(services, DEVICE, applied["confirmation"])
    assert again.released == []  # a replay changes nothing

    rebooked = await usage.request_usage(services, other, DEVICE, start, hour)
    assert rebooked.request is not None and rebooked.permit is not None
    # The next list leaves the confirmed id off; the charger still refuses that permit.
    await permits.revoke_permit(services, manager, rebooked.permit.id, "test")
    later = await permits.revocation_list(services, driver, DEVICE)
    assert later.permit_ids == [rebooked.permit.id]
    assert charger.apply_revocations(later.token)["accepted"] is True
    inside_the_window = start.timestamp() + 60
    for withdrawn in (first.permit, rebooked.permit):
        assert charger.evaluate(withdrawn.token, inside_the_window).reason == "revoked"


async def test_only_the_devices_own_word_on_a_list_the_server_signed_is_taken(
    services: Services, people: dict[str, User], clock: Clock, charger: Charger
) -> None:
    driver = people["u1"]
    start = clock.now + timedelta(hours=1)
    asked = await usage.request_usage(services, driver, DEVICE, start, timedelta(hours=1))
    assert asked.request is not None
    await usage.cancel(services, driver, asked.request.id)  # list sequence 1
    now = int(clock.now.timestamp())

    def signed(device_id: str, sequence: int, key: SigningKey) -> str:
        confirmation = RevocationConfirmation(device_id, sequence, now)
        return b64url(encode_confirmation(confirmation, key))

    device_key = charger.config.key
    refused = {
        "another key": signed(DEVICE, 1, SigningKey.generate()),
        "another device": signed("ch-2", 1, device_key),
        "a list never signed": signed(DEVICE, 2, device_key),
        "not base64url": "***",
    }
    for why, confirmation in refused.items():
        with pytest.raises(Invalid):
            await permits.confirm_revocations(services, DEVICE, confirmation)
            pytest.fail(why)
    still = await usage.request_usage(services, people["u2"], DEVICE, start, timedelta(hours=1))
    assert still.request is None  # nothing was released
    assert b64url_decode(signed(DEVICE, 1, device_key))  # the honest one is well-formed


async def test_confirm_revocations_answers_typed_failures(
    gql: GraphQLClient, tokens: dict[str, str]
) -> None:
    unknown = await gql(CONFIRM, {"device": "ch-404", "confirmation": "AA"}, tokens["user"])
    assert unknown["data"]["confirmRevocations"]["__typename"] == "NotFound"
    garbage = await gql(CONFIRM, {"device": "ch-1", "confirmation": "AA"}, tokens["user"])
    assert garbage["data"]["confirmRevocations"]["__typename"] == "InvalidInput"
