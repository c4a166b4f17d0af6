"""The command line as a manager or a technician uses it: init, verify, scan."""

import json
import os
import stat
from pathlib import Path

import pytest
import segno

from device.cli import main
from device.clock import iso
from device.protocol.keys import b64url_decode, public_key_from_raw
from device.protocol.permit import read_permit
from device.protocol.text import to_text
from tests.device.conftest import T0, Server


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return code, json.loads(out[0])


@pytest.fixture
def trust_file(tmp_path: Path, server: Server) -> Path:
    path = tmp_path / "permit-keys.json"
    path.write_text(json.dumps(server.trust.to_jwks()))
    return path


def test_init_creates_a_private_key_and_prints_the_public_one(
    tmp_path: Path, trust_file: Path, capsys
) -> None:
    state = tmp_path / "dev"
    code, out = run_cli(
        capsys, "init", "--state", str(state), "--device-id", "c-7", "--trust", str(trust_file)
    )
    assert code == 0 and out["device_id"] == "c-7"
    assert len(b64url_decode(out["public_key"])) == 32
    public_key_from_raw(b64url_decode(out["public_key"]))
    assert stat.S_IMODE(os.stat(state / "device.key").st_mode) == 0o600
    assert json.loads((state / "trust.json").read_text()) == json.loads(trust_file.read_text())
    again = run_cli(
        capsys, "init", "--state", str(state), "--device-id", "c-7", "--trust", str(trust_file)
    )
    assert again[0] == 0 and again[1]["public_key"] == out["public_key"]  # same key
    assert (
        main(["init", "--state", str(state), "--device-id", "other", "--trust", str(trust_file)])
        == 2
    )


def test_init_refuses_a_trust_list_that_is_not_a_jwk_set(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"nope": 1}')
    assert (
        main(["init", "--state", str(tmp_path / "d"), "--device-id", "c", "--trust", str(bad)]) == 2
    )
    assert "JWK" in capsys.readouterr().err


def _write(tmp_path: Path, data: bytes | str) -> str:
    path = tmp_path / "permit.bin"
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(path)


def test_verify_accepts_raw_bytes_and_text(
    tmp_path: Path, state_dir: Path, server: Server, capsys
) -> None:
    permit = server.permit(T0, minutes=30)
    at = iso(T0 + 60)
    for form in (permit, to_text(permit)):
        code, out = run_cli(
            capsys, "verify", "--state", str(state_dir), "--at", at, _write(tmp_path, form)
        )
        assert code == 0
        assert out == {
            "accepted": True,
            "permit_id": read_permit(permit, server.trust).permit_id.hex(),
            "not_before": iso(T0),
            "expires_at": iso(T0 + 1800),
        }


def test_verify_reads_stdin(state_dir: Path, server: Server, capsys, monkeypatch) -> None:
    import io
    import sys

    text = to_text(server.permit(T0, device_id="elsewhere"))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    code, out = run_cli(capsys, "verify", "--state", str(state_dir), "--at", iso(T0), "-")
    assert (code, out["accepted"], out["reason"]) == (1, False, "wrong_device")
    assert out["message"]


@pytest.mark.parametrize(("at", "reason"), [(T0 - 3600, "not_yet_valid"), (T0 + 7200, "expired")])
def test_verify_reports_the_window(tmp_path, state_dir, server, capsys, at, reason) -> None:
    path = _write(tmp_path, server.permit(T0, minutes=60, issued_at=T0 - 7200))
    code, out = run_cli(capsys, "verify", "--state", str(state_dir), "--at", iso(at), path)
    assert (code, out["reason"]) == (1, reason)


def test_verify_changes_nothing_and_honours_trusted_time(
    tmp_path: Path, state_dir: Path, server: Server, rig, capsys
) -> None:
    # the device has seen T0 + 2 h; --at one hour earlier cannot revive an expired permit
    rig.clock.advance(7200)
    rig.charger.tick()
    permit = _write(tmp_path, server.permit(T0, minutes=60, issued_at=T0 - 60))
    files = ("state.db", "state.db-wal")
    before = [(state_dir / name).read_bytes() for name in files]
    code, out = run_cli(capsys, "verify", "--state", str(state_dir), "--at", iso(T0 + 600), permit)
    assert (code, out["reason"]) == (1, "expired")
    assert [(state_dir / name).read_bytes() for name in files] == before


def test_verify_on_a_missing_state_fails_cleanly(tmp_path: Path, capsys) -> None:
    assert main(["verify", "--state", str(tmp_path / "none"), "-"]) == 2
    assert "not an initialised device state" in capsys.readouterr().err


def test_scan_presents_a_qr_code_to_the_device(
    tmp_path: Path, state_dir: Path, server: Server, capsys
) -> None:
    import time

    permit = server.permit(time.time(), minutes=30, issued_at=time.time() - 5)
    image = tmp_path / "permit.png"
    segno.make(to_text(permit), error="m", micro=False).save(image, scale=6)
    code, out = run_cli(capsys, "scan", "--state", str(state_dir), str(image))
    assert code == 0 and out["accepted"]
    assert out["permit_id"] == read_permit(permit, server.trust).permit_id.hex()
    # presented for real: the same picture again is now a used permit ... of the active session
    code, out = run_cli(capsys, "scan", "--state", str(state_dir), str(image))
    assert code == 0
    other = tmp_path / "other.png"
    segno.make(to_text(server.permit(time.time())), error="m").save(other, scale=6)
    code, out = run_cli(capsys, "scan", "--state", str(state_dir), str(other))
    assert (code, out["reason"]) == (1, "superseded")


def test_scan_of_a_picture_without_a_code_says_so(tmp_path: Path, state_dir: Path, capsys) -> None:
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    code, out = run_cli(capsys, "scan", "--state", str(state_dir), str(blank))
    assert (code, out["reason"]) == (1, "malformed")
