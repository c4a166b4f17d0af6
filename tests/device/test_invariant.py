"""The charger's safety invariant under random sequences of everything that can happen.

The relay is closed only when a non-revoked permit for this device covers trusted time, and
energy never exceeds the permit's limit: through time steps, plugging and unplugging, valid,
forged, expired and other-device permits, revocation lists (new and stale), clocks set
backwards and power losses (the runtime rebuilt from its state directory).
"""

import shutil
import tempfile
from pathlib import Path

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from device.battery import Battery
from device.clock import ManualClock
from device.config import init_state, load_config
from device.protocol.keys import SigningKey, b64url_decode
from device.protocol.permit import read_permit
from device.protocol.receipt import read_receipt
from tests.device.conftest import DEVICE_ID, T0, Rig, Server


class ChargerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="pp-device-"))
        self.server = Server()
        init_state(self.dir, DEVICE_ID, self.server.trust)
        self.clock = ManualClock(T0)
        self.rig = Rig(load_config(self.dir), self.clock, [])
        self.issued: list[bytes] = []
        self.limits: dict[bytes, int | None] = {}
        self.revoked: set[bytes] = set()
        self.lists: list[bytes] = []
        self.last_trusted = self.rig.charger.trusted_time

    def teardown(self) -> None:
        self.rig.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def now(self) -> float:
        return self.rig.charger.trusted_time

    @rule(seconds=st.integers(1, 1800))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)
        self.rig.charger.tick()

    @rule(back=st.integers(60, 3 * 3600))
    def clock_set_backwards(self, back: int) -> None:
        self.clock.set_wall(self.clock.wall() - back)
        self.rig.charger.tick()

    @rule()
    def power_loss(self) -> None:
        self.rig.restart()

    @rule(soc=st.floats(0, 1), power=st.sampled_from([3700, 7400, 11_000, 50_000]))
    def plug(self, soc: float, power: int) -> None:
        self.rig.charger.set_vehicle(Battery(20_000, soc * 20_000, power))

    @rule()
    def unplug(self) -> None:
        self.rig.charger.set_vehicle(None)

    @rule()
    def user_stop(self) -> None:
        session = self.rig.charger.session
        self.rig.charger.stop(permit=None if session is None else session.permit)

    @rule(
        offset=st.integers(-2 * 3600, 2 * 3600),
        minutes=st.integers(1, 120),
        energy=st.none() | st.integers(0, 20_000),
        kind=st.sampled_from(["valid", "valid", "valid", "forged", "other_device", "tampered"]),
    )
    def present_permit(self, offset: int, minutes: int, energy: int | None, kind: str) -> None:
        start = self.now + offset
        key = SigningKey.generate() if kind == "forged" else None
        device = "charger-2" if kind == "other_device" else DEVICE_ID
        permit = self.server.permit(
            start,
            minutes,
            device_id=device,
            max_energy_wh=energy,
            key=key,
            issued_at=min(start, self.now) - 30,
        )
        if kind == "tampered":
            permit = permit[:-10] + bytes(10)
        decision = self.rig.charger.present_permit(permit)
        if kind == "valid":
            self.issued.append(permit)
            self.limits[read_permit(permit, self.server.trust).permit_id] = energy
        else:
            assert not decision.accepted

    @precondition(lambda self: self.issued)
    @rule(data=st.data())
    def revoke(self, data: st.DataObject) -> None:
        permit = data.draw(st.sampled_from(self.issued))
        token = self.server.revoke(permit, at=int(self.now))
        self.lists.append(token)
        assert self.rig.charger.apply_revocations(token)["accepted"]
        self.revoked.add(read_permit(permit, self.server.trust).permit_id)

    @precondition(lambda self: len(self.lists) > 1)
    @rule(data=st.data())
    def replay_a_stale_revocation_list(self, data: st.DataObject) -> None:
        token = data.draw(st.sampled_from(self.lists))
        assert self.rig.charger.apply_revocations(token)["reason"] == "superseded"

    @invariant()
    def relay_closed_only_under_a_covering_non_revoked_permit(self) -> None:
        charger = self.rig.charger
        if charger.relay_closed:
            event("relay closed")
            session = charger.session
            assert session is not None
            claims = read_permit(session.permit, self.server.trust)
            assert claims.device_id == DEVICE_ID
            assert claims.not_before <= charger.trusted_time < claims.expires_at
            assert claims.permit_id not in self.revoked

    @invariant()
    def energy_never_exceeds_the_limit(self) -> None:
        session = self.rig.charger.session
        if session is not None and session.claims.max_energy_wh is not None:
            assert session.energy_wh <= session.claims.max_energy_wh
        key = self.rig.config.key.public_key
        counters = []
        for item in self.rig.charger.receipts():
            receipt = read_receipt(b64url_decode(item["token"]), key)
            limit = self.limits[receipt.permit_id]
            assert limit is None or receipt.energy_wh <= limit
            counters.append(receipt.counter)
            event(f"stop: {receipt.stop_reason}")
        assert counters == list(range(1, len(counters) + 1))

    @invariant()
    def trusted_time_never_goes_backwards(self) -> None:
        assert self.rig.charger.trusted_time >= self.last_trusted
        self.last_trusted = self.rig.charger.trusted_time


ChargerMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
TestChargerInvariant = ChargerMachine.TestCase
