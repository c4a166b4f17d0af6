"""The whole journey: request → permit → charger → receipt → COMPLETED, and revocation."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.services.container import Services
from device.battery import Battery
from device.clock import ManualClock
from device.config import init_state, load_config
from device.protocol import TrustList
from device.protocol.keys import b64url_decode
from device.protocol.text import from_text
from device.runtime import Charger
from device.state import Store
from tests.conftest import Clock, GraphQLClient
from tests.schema.commissioning import registration
from tests.schema.queries import GET_REQUEST, REVOKE
from tests.schema.test_receipt_identity import SUBMIT as SUBMIT_AND_ACK
from tests.schema.test_receipts_and_revocation import REGISTER, REVOCATIONS
from tests.schema.test_request_usage import ask

DEVICE_CLOCKS: dict[int, ManualClock] = {}


@pytest.fixture
def charger(tmp_path: Path, services: Services, clock: Clock) -> Iterator[Charger]:
    """The demo charger ch-1, trusting this server's key, on a clock the test moves."""
    state = tmp_path / "ch-1"
    init_state(state, "ch-1", TrustList.from_jwks(services.signer.jwks()))
    store = Store(load_config(state).db_path)
    device_clock = ManualClock(clock.now.timestamp())
    made = Charger(load_config(state), store, device_clock)
    DEVICE_CLOCKS[id(made)] = device_clock
    yield made
    del DEVICE_CLOCKS[id(made)]
    store.close()


async def commission(gql: GraphQLClient, charger: Charger, manager_token: str) -> None:
    body = await gql(REGISTER, registration(charger.config.key), manager_token)
    assert body["data"]["registerDevice"]["__typename"] == "Device"


def advance(charger: Charger, seconds: float) -> None:
    clock = DEVICE_CLOCKS[id(charger)]
    for _ in range(int(seconds // 60)):
        clock.advance(60)
        charger.tick()


async def test_a_permit_from_the_server_charges_the_car_and_its_receipt_completes_the_request(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, charger: Charger
) -> None:
    await commission(gql, charger, tokens["manager"])
    asked = await ask(gql, tokens["user"], clock.now + timedelta(minutes=2), 30)
    permit_bytes = from_text(asked["permit"]["qrText"], max_bytes=1024)

    early = charger.present_permit(permit_bytes)
    assert early.reason == "not_yet_valid"  # more than the 60 s skew before the window
    charger.set_vehicle(Battery(capacity_wh=60_000, energy_wh=10_000, max_power_w=11_000))
    advance(charger, 60)
    decision = charger.present_permit(permit_bytes)
    assert decision.accepted, decision.to_json()
    assert not charger.relay_closed  # accepted within the skew, but the window is not open
    advance(charger, 2 * 60)
    assert charger.relay_closed
    advance(charger, 40 * 60)
    assert not charger.relay_closed  # the window closed

    receipts = charger.receipts()
    assert len(receipts) == 1
    body = await gql(SUBMIT_AND_ACK, {"tokens": [r["token"] for r in receipts]}, tokens["user"])
    result = body["data"]["submitReceipts"][0]
    assert result["status"] == "ACCEPTED", result
    request = (await gql(GET_REQUEST, {"id": asked["id"]}, tokens["user"]))["data"]["usageRequest"]
    assert request["status"] == "COMPLETED"
    assert 0 < request["energyWh"] <= 11_000 * 0.5 + 1  # at most 30 min at 11 kW
    # The phone carries the server's signed acknowledgement back: only then may it go.
    assert charger.ack_receipts(b64url_decode(result["acknowledgement"])) == 1
    assert charger.receipts() == []


async def test_a_revocation_carried_to_the_charger_stops_the_session_at_once(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, charger: Charger
) -> None:
    await commission(gql, charger, tokens["manager"])
    asked: dict[str, Any] = await ask(gql, tokens["user"], clock.now + timedelta(minutes=1), 60)
    assert charger.present_permit(b64url_decode(asked["permit"]["token"])).accepted
    charger.set_vehicle(Battery(capacity_wh=60_000, energy_wh=10_000, max_power_w=11_000))
    advance(charger, 3 * 60)
    assert charger.relay_closed

    await gql(REVOKE, {"id": asked["permit"]["id"], "reason": "stolen phone"}, tokens["manager"])
    revocations = (await gql(REVOCATIONS, token=tokens["user2"]))["data"]["revocationList"]
    assert charger.apply_revocations(b64url_decode(revocations["token"]))["accepted"]
    assert not charger.relay_closed
    again = charger.present_permit(b64url_decode(asked["permit"]["token"]))
    assert not again.accepted
