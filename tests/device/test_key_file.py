"""The device key file stays private: a state whose key others may read is refused by name."""

import json
from pathlib import Path

import pytest

from device.cli import main
from device.config import StateError, init_state, load_config
from tests.device.conftest import Server


def test_a_device_key_open_to_others_is_refused_with_the_fix(
    tmp_path: Path, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "dev"
    init_state(state, "c-1", server.trust)
    key = state / "device.key"
    key.chmod(0o644)

    with pytest.raises(StateError) as caught:
        load_config(state)
    assert str(key) in str(caught.value) and f"chmod 600 {key}" in str(caught.value)

    assert main(["prove", "--state", str(state)]) == 2
    error = json.loads(capsys.readouterr().err)
    assert f"chmod 600 {key}" in error["message"]

    key.chmod(0o600)
    assert load_config(state).device_id == "c-1"
