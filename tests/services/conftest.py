"""A real charger (device.runtime.Charger) for the server's use cases to talk to, and a
second server "process" on the same store."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.services.container import Services, build_services
from app.settings import Settings
from device.clock import ManualClock
from device.config import init_state, load_config
from device.protocol.keys import TrustList
from device.runtime import Charger
from device.state import Store
from tests.conftest import Clock

DEVICE = "ch-1"


@pytest.fixture
def charger(tmp_path: Path, services: Services, clock: Clock) -> Iterator[Charger]:
    """The demo's ch-1 as a real charger, trusting this server's key, on the server's time."""
    trust = TrustList([services.signer.key.public_key])
    init_state(tmp_path / "charger", DEVICE, trust)
    config = load_config(tmp_path / "charger")
    store = Store(config.db_path)
    yield Charger(config, store, ManualClock(clock.now.timestamp()))
    store.close()


@pytest.fixture
async def second_process(settings: Settings, clock: Clock) -> AsyncIterator[Services]:
    """Another Services on the same data directory and database, with its own engine and
    pool, as a second `powerpermit serve` would have; on the same clock as `services`."""
    other = build_services(settings)
    other.clock = clock
    yield other
    await other.db.dispose()
