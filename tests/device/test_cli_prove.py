"""`init` and `prove` print what registerDevice needs: the key and a proof of holding it."""

import json
import time
from pathlib import Path

import pytest

from device.cli import main
from device.protocol.errors import ProtocolError
from device.protocol.keys import b64url_decode, public_key_from_raw
from device.protocol.possession import verify_possession
from tests.device.conftest import Server


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return code, json.loads(out[0])


def proven(out: dict, device_id: str) -> None:
    key = public_key_from_raw(b64url_decode(out["public_key"]))
    proof = b64url_decode(out["proof"])
    verify_possession(proof, device_id=device_id, public_key=key, now=int(time.time()))


def test_init_and_prove_print_a_proof_the_server_accepts_for_that_device_only(
    tmp_path: Path, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = tmp_path / "permit-keys.json"
    trust.write_text(json.dumps(server.trust.to_jwks()))
    state = tmp_path / "dev"
    code, made = run_cli(
        capsys, "init", "--state", str(state), "--device-id", "c-7", "--trust", str(trust)
    )
    assert code == 0
    proven(made, "c-7")

    code, again = run_cli(capsys, "prove", "--state", str(state))
    assert code == 0
    assert (again["device_id"], again["public_key"]) == ("c-7", made["public_key"])
    proven(again, "c-7")
    with pytest.raises(ProtocolError) as caught:
        proven(again, "c-8")
    assert caught.value.code == "wrong_device"


def test_prove_without_a_state_directory_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prove", "--state", str(tmp_path / "nowhere")]) == 2
    assert "not an initialised device state" in capsys.readouterr().err
