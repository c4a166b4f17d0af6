"""A real charger (device.runtime.Charger) for the server's use cases to talk to."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services.container import Services
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
