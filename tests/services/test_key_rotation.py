"""Permit-key rotation without downtime, on both engines, against real chargers.

Two server "processes" (two Services, each with its own engine and its own view of the
keyring) share one data directory and one database, as several `powerpermit serve` would.
A rotation lands in the middle of a burst of approvals; every permit verifies on a charger
trusting both keys; a charger learns the new key from the signed trust-list document; the
old key is pruned only once its last permit has expired, after which its permits are
refused by a charger whose trust list was updated without it.
"""

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from app.domain.model import Permit, User
from app.services import permit_keys, usage
from app.services.container import Services
from app.services.demo import add_busy_site
from app.services.keyring import PRUNE_GRACE, KeyringError
from app.store.permits import Permits
from app.store.repositories import Users
from device.clock import ManualClock
from device.config import init_state, load_config
from device.protocol.cose import decode_sign1
from device.protocol.keys import TrustList, b64url, key_id
from device.protocol.revocation import read_revocation_list
from device.runtime import Charger
from device.state import Store
from tests.conftest import Clock

DEVICE = "busy-0"
BURST = 16  # asks per wave; two waves overlap the rotation


@pytest.fixture
def site(services: Services, clock: Clock) -> None:
    services.db.run_sync(lambda c: add_busy_site(c, "busy", devices=1, drivers=1, now=clock.now))


class Chargers:
    """Real chargers for busy-0, each with the trust list it was given."""

    def __init__(self, root: Path, clock: Clock) -> None:
        self.root, self.clock, self.stores = root, clock, list[Store]()

    def make(self, name: str, trust: TrustList) -> Charger:
        init_state(self.root / name, DEVICE, trust)
        config = load_config(self.root / name)
        store = Store(config.db_path)
        self.stores.append(store)
        return Charger(config, store, ManualClock(self.clock.now.timestamp()))


@pytest.fixture
def chargers(tmp_path: Path, clock: Clock) -> Iterator[Chargers]:
    made = Chargers(tmp_path / "chargers", clock)
    yield made
    for store in made.stores:
        store.close()


async def ask(services: Services, hour: float, clock: Clock) -> Permit:
    start = clock.now + timedelta(hours=hour)
    asked = await usage.request_usage(
        services, await driver(services), DEVICE, start, timedelta(minutes=30)
    )
    assert asked.permit is not None, asked.decision  # auto-approved and within the lead
    return asked.permit


def kid_of(token: bytes) -> str:
    kid = decode_sign1(token, max_size=1024).kid
    assert kid is not None
    return b64url(kid)


def evaluate_in_window(charger: Charger, permit: Permit) -> str | None:
    """The charger's decision at the permit's window start (changing nothing)."""
    decision = charger.evaluate(permit.token, wall=permit.not_before.timestamp() + 1)
    return decision.reason


async def test_a_rotation_in_the_middle_of_a_burst_of_approvals(
    services: Services,
    second_process: Services,
    site: None,
    chargers: Chargers,
    clock: Clock,
) -> None:
    old_kid = b64url(services.signer.key.kid)
    processes = (services, second_process)
    first_done = asyncio.Event()

    async def ask_and_tell(i: int) -> Permit:
        permit = await ask(processes[i % 2], 1 + i / 2, clock)
        first_done.set()
        return permit

    wave_a = [asyncio.create_task(ask_and_tell(i)) for i in range(BURST)]
    await first_done.wait()  # the burst is under way: rotate now, from "the CLI"
    ring = await asyncio.to_thread(permit_keys.rotate_keys, services, clock.now)
    new_kid = ring.current_kid
    wave_b = [asyncio.create_task(ask_and_tell(i)) for i in range(BURST, 2 * BURST)]
    permits = await asyncio.gather(*wave_a, *wave_b)

    kids = [p.kid for p in permits]
    assert set(kids) == {old_kid, new_kid}
    assert all(p.kid == new_kid for p in permits[BURST:])  # asked after the rotation
    assert all(kid_of(p.token) == p.kid for p in permits)  # the record names the signer
    stored = await services.db.read(lambda c: Permits(c).many([p.id for p in permits]))
    assert {p.id: p.kid for p in stored.values()} == {p.id: p.kid for p in permits}

    both = chargers.make("both", services.signer.key_set())
    assert len(both.config.trust) == 2
    for permit in sorted(permits, key=lambda p: p.not_before):
        assert evaluate_in_window(both, permit) is None, permit.kid


async def test_a_charger_learns_the_new_key_from_the_trust_list_document(
    services: Services, second_process: Services, site: None, chargers: Chargers, clock: Clock
) -> None:
    charger = chargers.make("old", services.signer.key_set())  # trusts the first key only
    permit_keys.rotate_keys(services, clock.now)
    new_permit = await ask(second_process, 2, clock)  # the other process follows the ring
    assert new_permit.kid == (await permit_keys.list_keys(services, clock.now))[-1].kid
    assert evaluate_in_window(charger, new_permit) == "unknown_key"

    # What a charger must act on whatever it trusts is signed with the oldest key.
    revocations = services.signer.revocation_list(DEVICE, 1, [new_permit.id], clock.now)
    assert read_revocation_list(revocations, charger.config.trust, device_id=DEVICE)

    signed = await permit_keys.trust_list(second_process, await driver(services), DEVICE)
    assert signed.document.sequence == 1
    result = charger.apply_trust_update(signed.token)
    assert result["accepted"], result
    assert evaluate_in_window(charger, new_permit) is None


async def test_prune_waits_for_the_last_permit_of_the_old_key_to_expire(
    services: Services, second_process: Services, site: None, chargers: Chargers, clock: Clock
) -> None:
    old_permit = await ask(services, 10, clock)  # the old key's last permit: ends at +10.5 h
    rotated_at = clock.now
    permit_keys.rotate_keys(services, rotated_at)
    new_permit = await ask(second_process, 11, clock)
    charger = chargers.make("updated", services.signer.key_set())

    for moment in (
        rotated_at + PRUNE_GRACE / 2,  # a permit by the old key may still be on its way
        old_permit.expires_at - timedelta(seconds=1),  # still valid
    ):
        assert await permit_keys.prune_keys(services, moment) == []
        assert len(services.signer.key_set()) == 2
    [old, new] = await permit_keys.list_keys(services, old_permit.expires_at)
    assert (old.last_permit_expires, old.prunable) == (old_permit.expires_at, True)
    assert (new.current, new.prunable) == (True, False)
    for kid, moment, reason in (
        (new.kid, old_permit.expires_at, "has not signed its last permit yet"),
        (old.kid, rotated_at, "stopped signing moments ago"),
        (old.kid, old_permit.expires_at - timedelta(seconds=1), "valid until"),
    ):  # naming the key: refused with the reason, nothing dropped
        with pytest.raises(KeyringError, match=reason):
            await permit_keys.prune_keys(services, moment, kid)
        assert len(services.signer.key_set()) == 2

    clock.now = old_permit.expires_at
    assert await permit_keys.prune_keys(services, clock.now, old.kid) == [old.kid]
    for process in (services, second_process):  # every process publishes the new key alone
        assert [jwk["kid"] for jwk in process.signer.jwks()["keys"]] == [new.kid]
    assert not (services_keys_dir(services) / f"permit-{old.kid}.ed25519").exists()
    assert await permit_keys.prune_keys(services, clock.now + timedelta(days=365)) == []  # current

    signed = await permit_keys.trust_list(services, await driver(services), DEVICE)
    assert signed.document.sequence == 2  # rotate, prune
    assert charger.apply_trust_update(signed.token)["accepted"]
    assert [b64url(key_id(k)) for k in signed.document.keys] == [new.kid]
    assert evaluate_in_window(charger, old_permit) == "unknown_key"
    assert evaluate_in_window(charger, new_permit) is None


async def driver(services: Services) -> User:
    user = await services.db.read(lambda conn: Users(conn).get("busy-u0"))
    assert user is not None
    return user


def services_keys_dir(services: Services) -> Path:
    return services.signer.keys.directory.path  # type: ignore[union-attr]


def test_the_keys_on_disk_are_private_and_never_in_keyring_json(
    services: Services, clock: Clock
) -> None:
    ring = permit_keys.rotate_keys(services, clock.now)
    keys_dir = services_keys_dir(services)
    manifest = (keys_dir / "keyring.json").read_text()
    for entry in ring.entries:
        assert (keys_dir / entry.file).stat().st_mode & 0o777 == 0o600
        seed = (keys_dir / entry.file).read_bytes()
        assert seed.hex() not in manifest and b64url(seed) not in manifest
    assert (keys_dir / "keyring.json").stat().st_mode & 0o777 == 0o600


async def test_a_ring_that_lost_keyring_json_refuses_to_start_afresh(
    services: Services, clock: Clock
) -> None:
    permit_keys.rotate_keys(services, clock.now)
    (services_keys_dir(services) / "keyring.json").unlink()
    with pytest.raises(KeyringError, match="restore it from a backup"):
        await permit_keys.list_keys(services, clock.now)


async def test_permits_from_before_kids_were_recorded_hold_the_first_key(
    services: Services, site: None, clock: Clock
) -> None:
    """Rows from before migration 0010 have no kid: one key signed them all, the first."""
    old_permit = await ask(services, 20, clock)
    await services.db.write(lambda c: Permits(c).save(replace(old_permit, kid=None)))
    permit_keys.rotate_keys(services, clock.now)
    just_before = old_permit.expires_at - timedelta(seconds=1)
    assert await permit_keys.prune_keys(services, just_before) == []
    [first, _] = await permit_keys.list_keys(services, just_before)
    assert first.last_permit_expires == old_permit.expires_at
    assert await permit_keys.prune_keys(services, old_permit.expires_at) == [first.kid]


def test_a_rotation_the_server_cannot_read_leaves_it_signing_with_the_old_key(
    services: Services, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    old = services.signer.key
    ring = permit_keys.rotate_keys(services, clock.now)
    new_file = services_keys_dir(services) / ring.entry(ring.current_kid).file
    new_file.chmod(0o644)  # as if written by another user: refused, never half-loaded
    assert services.signer.key == old and services.signer.key == old
    refusals = [r for r in caplog.records if "keyring not reloaded" in r.message]
    assert len(refusals) == 1  # logged once, not once per permit
    new_file.chmod(0o600)
    assert b64url(services.signer.key.kid) == ring.current_kid


async def test_a_key_published_ahead_reaches_chargers_before_it_signs(
    services: Services, second_process: Services, site: None, chargers: Chargers, clock: Clock
) -> None:
    """`keys add`, let phones carry the document, then `keys rotate`: no charger ever sees
    a permit signed by a key it does not know."""
    charger = chargers.make("visited", services.signer.key_set())
    first_kid = b64url(services.signer.key.kid)
    ring = permit_keys.add_key(services, clock.now)
    [next_key] = ring.staged
    assert b64url(second_process.signer.key.kid) == first_kid  # it signs nothing yet
    assert (await ask(second_process, 1, clock)).kid == first_kid
    assert [jwk["kid"] for jwk in second_process.signer.jwks()["keys"]] == [first_kid, next_key.kid]

    signed = await permit_keys.trust_list(second_process, await driver(services), DEVICE)
    assert charger.apply_trust_update(signed.token)["accepted"]
    clock.advance(PRUNE_GRACE * 10)
    assert await permit_keys.prune_keys(services, clock.now) == []  # the next key stays

    rotated = permit_keys.rotate_keys(services, clock.now)
    assert rotated.current_kid == next_key.kid and len(rotated.entries) == 2  # no third key
    permit = await ask(second_process, 2, clock)
    assert permit.kid == next_key.kid
    assert evaluate_in_window(charger, permit) is None  # no document needed any more
    [old, new] = await permit_keys.list_keys(services, clock.now)
    assert (old.current, old.staged, new.current, new.staged) == (False, False, True, False)
