"""The charger as a user sees it: relay, energy, stop reasons, receipts, time that won't go back."""

import pytest

from device.battery import Battery
from device.protocol import ProtocolError
from device.protocol.keys import SigningKey, b64url
from device.protocol.permit import read_permit
from device.protocol.receipt import encode_receipt, read_receipt
from device.protocol.text import to_text
from device.relay import RelayState
from device.runtime import NotHolder
from tests.device.conftest import T0, Rig, Server


def car(soc: float = 0.2, max_power_w: float = 11_000, capacity_wh: float = 60_000) -> Battery:
    return Battery(capacity_wh, soc * capacity_wh, max_power_w)


def receipts(rig: Rig) -> list:
    key = rig.config.key.public_key
    return [read_receipt(_b64(r["token"]), key) for r in rig.charger.receipts()]


def signature_forged(permit: bytes) -> bytes:
    """The permit with its signature's last byte flipped: XOR 1 always changes it (setting it
    to zero did nothing when it was zero already, and then the test failed one run in 256)."""
    return permit[:-1] + bytes([permit[-1] ^ 1])


def _b64(text: str) -> bytes:
    from device.protocol.keys import b64url_decode

    return b64url_decode(text)


def test_valid_permit_and_a_plugged_car_close_the_relay_until_the_window_ends(
    rig: Rig, server: Server
) -> None:
    permit = server.permit(T0, minutes=30)
    assert rig.charger.present_permit(permit).accepted
    assert rig.charger.state is RelayState.AUTHORIZED and not rig.charger.relay_closed
    rig.charger.set_vehicle(car())
    assert rig.charger.relay_closed
    rig.clock.advance(10 * 60)
    rig.charger.tick()
    assert rig.charger.session is not None
    assert rig.charger.session.energy_wh == pytest.approx(11_000 / 6)
    rig.clock.advance(25 * 60)
    rig.charger.tick()
    assert not rig.charger.relay_closed
    [receipt] = receipts(rig)
    assert receipt.stop_reason == "window_end"
    assert receipt.energy_wh == pytest.approx(11_000 / 2, abs=0.01)
    assert receipt.permit_id == read_permit(permit, server.trust).permit_id
    assert (receipt.started_at, receipt.stopped_at) == (T0, T0 + 30 * 60)
    assert receipt.counter == 1


def test_a_permit_shown_just_before_its_window_waits_for_the_window(
    rig: Rig, server: Server
) -> None:
    rig.charger.set_vehicle(car())
    assert rig.charger.present_permit(server.permit(T0 + 30)).accepted
    assert not rig.charger.relay_closed
    rig.clock.advance(30)
    rig.charger.tick()
    assert rig.charger.relay_closed


def test_a_permit_for_later_is_not_yet_valid(rig: Rig, server: Server) -> None:
    decision = rig.charger.present_permit(server.permit(T0 + 3600))
    assert decision.reason == "not_yet_valid"


def test_energy_stops_exactly_at_the_permits_limit(rig: Rig, server: Server) -> None:
    rig.charger.present_permit(server.permit(T0, max_energy_wh=1000))
    rig.charger.set_vehicle(car())
    rig.clock.advance(3600)
    rig.charger.tick()
    [receipt] = receipts(rig)
    assert (receipt.stop_reason, receipt.energy_wh) == ("energy_limit", 1000)
    assert not rig.charger.relay_closed


def test_power_is_the_smallest_of_charger_permit_and_car(rig: Rig, server: Server) -> None:
    rig.charger.present_permit(server.permit(T0, max_power_w=3600))
    rig.charger.set_vehicle(car(max_power_w=7000))
    rig.clock.advance(600)
    rig.charger.tick()
    assert rig.charger.info()["power_w"] == 3600
    assert rig.charger.session is not None
    assert rig.charger.session.energy_wh == pytest.approx(600)


def test_a_full_battery_stops_the_session(rig: Rig, server: Server) -> None:
    rig.charger.present_permit(server.permit(T0, minutes=120))
    rig.charger.set_vehicle(car(soc=0.99, capacity_wh=10_000))
    rig.clock.advance(3600)
    rig.charger.tick()
    [receipt] = receipts(rig)
    assert receipt.stop_reason == "battery_full"
    assert receipt.energy_wh == pytest.approx(100)
    assert rig.charger.battery is not None and rig.charger.battery.full


def test_unplugging_ends_the_session_and_the_permit_cannot_be_reused(
    rig: Rig, server: Server
) -> None:
    permit = server.permit(T0)
    rig.charger.present_permit(permit)
    rig.charger.set_vehicle(car())
    rig.clock.advance(60)
    rig.charger.set_vehicle(None)
    assert [r.stop_reason for r in receipts(rig)] == ["unplugged"]
    assert rig.charger.present_permit(permit).reason == "superseded"


def test_user_stop_writes_a_receipt(rig: Rig, server: Server) -> None:
    holder = rig.charger.present_permit(server.permit(T0)).holder
    rig.charger.set_vehicle(car())
    rig.clock.advance(60)
    assert rig.charger.stop(holder=holder)
    assert not rig.charger.relay_closed
    assert [r.stop_reason for r in receipts(rig)] == ["user_stop"]
    assert not rig.charger.stop(holder=holder)


def test_stopping_needs_the_sessions_holder_or_its_permit(rig: Rig, server: Server) -> None:
    permit = server.permit(T0)
    accepted = rig.charger.present_permit(permit)
    assert accepted.holder and accepted.to_json()["holder"] == accepted.holder
    rig.charger.set_vehicle(car())
    for proof in ({}, {"holder": "guess"}, {"permit": server.permit(T0)}, {"permit": b"x"}):
        with pytest.raises(NotHolder):
            rig.charger.stop(**proof)
    assert rig.charger.relay_closed and not receipts(rig)
    assert rig.charger.present_permit(permit).holder == accepted.holder  # shown again
    rig.restart()
    assert rig.charger.stop(permit=to_text(permit).encode())  # the permit proves it too
    assert [r.stop_reason for r in receipts(rig)] == ["user_stop"]
    next_holder = rig.charger.present_permit(server.permit(T0)).holder
    assert next_holder != accepted.holder
    with pytest.raises(NotHolder):
        rig.charger.stop(holder=accepted.holder)  # a finished session's secret is dead


def test_another_permit_is_refused_while_a_session_is_active(rig: Rig, server: Server) -> None:
    first = server.permit(T0)
    rig.charger.present_permit(first)
    assert rig.charger.present_permit(first).accepted  # showing it again is harmless
    assert rig.charger.present_permit(server.permit(T0)).reason == "superseded"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda s: s.permit(T0, device_id="charger-2"), "wrong_device"),
        (lambda s: s.permit(T0, key=SigningKey.generate()), "unknown_key"),
        (lambda s: s.permit(T0 - 7200, minutes=60), "expired"),
        (lambda s: signature_forged(s.permit(T0)), "bad_signature"),
        (lambda s: b"\xa0", "malformed"),
        (lambda s: b"\x00" * 5000, "too_large"),
        (lambda s: to_text(s.permit(T0, device_id="x")).encode(), "wrong_device"),
    ],
)
def test_refused_permits_leave_the_relay_open(rig: Rig, server: Server, make, reason) -> None:
    rig.charger.set_vehicle(car())
    decision = rig.charger.present_permit(make(server))
    assert (decision.accepted, decision.reason) == (False, reason)
    assert not rig.charger.relay_closed and rig.charger.state is RelayState.IDLE


def test_revocation_stops_an_ongoing_session_at_once(rig: Rig, server: Server) -> None:
    permit = server.permit(T0)
    rig.charger.present_permit(permit)
    rig.charger.set_vehicle(car())
    rig.clock.advance(60)
    result = rig.charger.apply_revocations(server.revoke(permit))
    assert result | {"accepted": True, "sequence": 1, "revoked": 1} == result
    assert not rig.charger.relay_closed
    assert [r.stop_reason for r in receipts(rig)] == ["revoked"]
    assert rig.charger.info()["revocation_sequence"] == 1


def test_a_revoked_permit_is_refused_even_when_never_shown(rig: Rig, server: Server) -> None:
    permit = server.permit(T0)
    rig.charger.apply_revocations(server.revoke(permit))
    assert rig.charger.present_permit(permit).reason == "revoked"


def test_revocation_lists_must_be_newer_and_for_this_device(rig: Rig, server: Server) -> None:
    old = server.revoke(server.permit(T0))
    new = server.revoke(server.permit(T0))
    assert rig.charger.apply_revocations(new)["accepted"]
    assert rig.charger.apply_revocations(old)["reason"] == "superseded"
    assert rig.charger.apply_revocations(new)["reason"] == "superseded"
    other = server.revoke(device_id="charger-2")
    assert rig.charger.apply_revocations(other)["reason"] == "wrong_device"
    forged = Server().revoke()
    assert rig.charger.apply_revocations(forged)["reason"] == "unknown_key"


def test_a_clock_set_back_an_hour_still_refuses_a_permit_expired_ten_minutes_ago(
    rig: Rig, server: Server
) -> None:
    permit = server.permit(T0 - 70 * 60, minutes=60)
    rig.clock.set_wall(T0 - 3600)
    rig.charger.tick()
    assert rig.charger.present_permit(permit).reason == "expired"
    rig.restart()
    assert rig.charger.present_permit(permit).reason == "expired"


def test_a_clock_set_back_mid_charge_does_not_stretch_the_window(rig: Rig, server: Server) -> None:
    rig.charger.present_permit(server.permit(T0, minutes=30))
    rig.charger.set_vehicle(car())
    rig.clock.advance(600)
    rig.clock.set_wall(T0 - 3600)
    rig.clock.advance(21 * 60)
    rig.charger.tick()
    assert not rig.charger.relay_closed
    assert [r.stop_reason for r in receipts(rig)] == ["window_end"]


def test_a_verified_iat_moves_a_slow_clock_forward(rig: Rig, server: Server) -> None:
    rig.clock.set_wall(T0 - 86_400)
    assert rig.charger.present_permit(server.permit(T0 + 30, issued_at=T0)).accepted
    assert rig.charger.trusted_time >= T0


def test_power_loss_mid_charge_loses_nothing(rig: Rig, server: Server) -> None:
    permit = server.permit(T0, max_energy_wh=5000)
    old = server.permit(T0)
    rig.charger.present_permit(old)
    rig.charger.stop(permit=old)
    rig.charger.apply_revocations(server.revoke(server.permit(T0)))
    rig.charger.present_permit(permit)
    rig.charger.set_vehicle(car())
    rig.clock.advance(600)
    rig.charger.tick()
    before = rig.charger.info()
    charger = rig.restart()
    after = charger.info()
    for field in ("active_permit", "revocation_sequence", "unsent_receipts", "energy_total_wh"):
        assert after[field] == before[field], field
    assert charger.relay_closed
    assert charger.present_permit(old).reason == "superseded"
    rig.clock.advance(3600)
    charger.tick()
    counters = [r.counter for r in receipts(rig)]
    assert counters == [1, 2]
    assert receipts(rig)[-1].energy_wh == 5000


def test_receipts_leave_only_against_the_servers_signed_acknowledgement(
    rig: Rig, server: Server
) -> None:
    for _ in range(2):
        permit = server.permit(T0)
        rig.charger.present_permit(permit)
        rig.charger.stop(permit=permit)
    first, second = (_b64(r["token"]) for r in rig.charger.receipts())
    refusals = {
        "unknown_key": server.acknowledge(first, key=SigningKey.generate()),
        "wrong_device": server.acknowledge(first, device_id="charger-9"),
        "malformed": b"not an acknowledgement",
    }
    for reason, forged in refusals.items():
        with pytest.raises(ProtocolError) as caught:
            rig.charger.ack_receipts(forged)
        assert caught.value.code == reason
    assert [r["counter"] for r in rig.charger.receipts()] == [1, 2]

    assert rig.charger.ack_receipts(server.acknowledge(first, b"a receipt it never had")) == 1
    rig.restart()
    assert [r["counter"] for r in rig.charger.receipts()] == [2]
    assert rig.charger.ack_receipts(b64url(server.acknowledge(first, second)).encode()) == 1
    assert rig.charger.receipts() == []


def test_an_acknowledgement_for_an_old_key_keeps_the_new_keys_receipts(
    rig: Rig, server: Server
) -> None:
    """Re-commissioned with a new key, the charger counts from 1 again: same counter, new
    receipt. The server's acknowledgement of the old receipt 1 must not delete the new one."""
    permit = server.permit(T0)
    rig.charger.present_permit(permit)
    rig.charger.stop(permit=permit)
    [new] = receipts(rig)
    old_token = encode_receipt(new, SigningKey.generate())  # same fields, the old key
    assert rig.charger.ack_receipts(server.acknowledge(old_token)) == 0
    assert [r.counter for r in receipts(rig)] == [1]
