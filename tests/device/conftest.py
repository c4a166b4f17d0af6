"""Shared fixtures: a server key, a device state directory, permits, a charger on a manual clock,
and its local link served over real HTTP."""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from device.clock import ManualClock
from device.config import DeviceConfig, init_state
from device.link import LinkServer
from device.protocol.acknowledgement import ReceiptAcknowledgement, encode_acknowledgement
from device.protocol.keys import SigningKey, TrustList
from device.protocol.permit import PermitClaims, encode_permit, new_permit_id
from device.protocol.receipt import receipt_digest
from device.protocol.revocation import RevocationList, encode_revocation_list
from device.runtime import Charger
from device.state import Store

DEVICE_ID = "charger-1"
T0 = 1_750_000_000  # a fixed start of simulated time
ORIGIN = "https://powerpermit.example"  # the one web origin the link answers
LINK_HOST = "charger-1.local"


@dataclass
class Server:
    """What the management server would sign, in tests."""

    key: SigningKey = field(default_factory=SigningKey.generate)
    sequence: int = 0
    revoked: set[bytes] = field(default_factory=set)

    @property
    def trust(self) -> TrustList:
        return TrustList([self.key.public_key])

    def permit(
        self,
        start: float,
        minutes: float = 60,
        *,
        device_id: str = DEVICE_ID,
        max_energy_wh: int | None = None,
        max_power_w: int | None = None,
        issued_at: float | None = None,
        key: SigningKey | None = None,
    ) -> bytes:
        claims = PermitClaims(
            issuer="pp",
            user_id="u1",
            device_id=device_id,
            not_before=int(start),
            expires_at=int(start + minutes * 60),
            issued_at=int(min(start, T0) - 60 if issued_at is None else issued_at),
            permit_id=new_permit_id(),
            request_id="r1",
            max_energy_wh=max_energy_wh,
            max_power_w=max_power_w,
        )
        return encode_permit(claims, key or self.key)

    def acknowledge(
        self,
        *receipts: bytes,
        device_id: str = DEVICE_ID,
        key: SigningKey | None = None,
        at: float = T0,
    ) -> bytes:
        """The server's signed word that it stored these receipts (their signed bytes)."""
        digests = frozenset(receipt_digest(r) for r in receipts)
        ack = ReceiptAcknowledgement(device_id, digests, int(at))
        return encode_acknowledgement(ack, key or self.key)

    def revoke(self, *permits: bytes, at: float = T0, device_id: str = DEVICE_ID) -> bytes:
        from device.protocol.permit import read_permit

        self.revoked.update(read_permit(p, self.trust).permit_id for p in permits)
        self.sequence += 1
        revocations = RevocationList(device_id, self.sequence, frozenset(self.revoked), int(at))
        return encode_revocation_list(revocations, self.key)


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def state_dir(tmp_path: Path, server: Server) -> Path:
    path = tmp_path / "state"
    init_state(path, DEVICE_ID, server.trust)
    return path


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@dataclass
class Rig:
    """A charger that can lose power: `restart()` rebuilds it from the state directory."""

    config: DeviceConfig
    clock: ManualClock
    events: list[dict[str, object]]
    charger: Charger = field(init=False)
    _store: Store = field(init=False)

    def __post_init__(self) -> None:
        self._open()

    def _open(self) -> None:
        self._store = Store(self.config.db_path)
        self.charger = Charger(self.config, self._store, self.clock, self.events.append)

    def restart(self) -> Charger:
        self._store.close()
        self._open()
        return self.charger

    def close(self) -> None:
        self._store.close()


@pytest.fixture
def rig(state_dir: Path, clock: ManualClock) -> Iterator[Rig]:
    from device.config import load_config

    made = Rig(load_config(state_dir), clock, [])
    yield made
    made.close()


@pytest.fixture
def charger(rig: Rig) -> Charger:
    return rig.charger


def serve(rig: Rig, request_timeout_s: float) -> LinkServer:
    """The rig's charger behind its local link on a free loopback port, in a thread."""
    server = LinkServer(
        rig.charger,
        "127.0.0.1",
        0,
        allowed_origins=[ORIGIN],
        link_hosts=[LINK_HOST],
        request_timeout_s=request_timeout_s,
    )
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def link(rig: Rig) -> Iterator[LinkServer]:
    server = serve(rig, request_timeout_s=0.5)  # short, so the slow-client tests end soon
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def http(link: LinkServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=link.url, timeout=5) as client:
        yield client


Advance = Callable[[float], None]
