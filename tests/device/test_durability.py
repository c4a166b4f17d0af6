"""Power loss mid-charge, for real: SIGKILL the `powerpermit-device run` process and restart it."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from device.config import init_state, load_config
from device.protocol.keys import b64url_decode
from device.protocol.permit import read_permit
from device.protocol.receipt import read_receipt
from device.protocol.text import to_text
from tests.device.conftest import DEVICE_ID, Server

SPEED = 600  # one real second is ten simulated minutes
CBOR = {"Content-Type": "application/cbor"}


class Device:
    def __init__(self, state: Path) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "device.cli",
                "run",
                "--state",
                str(state),
                "--port",
                "0",
                "--clock",
                "sim",
                "--speed",
                str(SPEED),
                "--tick",
                "0.05",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.lines: list[dict] = []
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))
            if self.lines[-1]["event"] == "listening":
                break
        self.http = httpx.Client(base_url=self.lines[-1]["url"], timeout=5)

    def info(self) -> dict:
        return self.http.get("/link/info").json()

    def wait_for(self, predicate, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.info()
            if predicate(info):
                return info
            time.sleep(0.05)
        raise AssertionError(f"condition not reached; last info: {info}")

    def kill(self) -> None:
        self.http.close()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[list[Device]]:
    started: list[Device] = []
    yield started
    for device in started:
        if device.proc.poll() is None:
            device.kill()


def test_sigkill_mid_charge_loses_nothing(tmp_path: Path, devices: list[Device]) -> None:
    server = Server()
    state = tmp_path / "state"
    init_state(state, DEVICE_ID, server.trust)
    now = time.time()
    permit = server.permit(now - 60, minutes=180, max_energy_wh=5000, issued_at=now - 60)
    permit_id = read_permit(permit, server.trust).permit_id.hex()

    devices.append(Device(state))
    first = devices[-1]
    assert first.http.post("/link/permit", json={"permit": to_text(permit)}).json()["accepted"]
    first.http.post("/link/vehicle", json={"plugged": True, "soc": 0.1})
    before = first.wait_for(lambda i: i["active_permit"]["energy_wh"] >= 1000)
    assert before["relay"] == "closed"
    first.kill()

    devices.append(Device(state))
    second = devices[-1]
    after = second.info()
    assert after["active_permit"]["permit_id"] == permit_id
    assert after["active_permit"]["energy_wh"] >= before["active_permit"]["energy_wh"]
    assert after["trusted_time"] >= before["trusted_time"]
    assert after["vehicle"]["energy_wh"] >= before["vehicle"]["energy_wh"]
    same_session = second.http.post("/link/permit", content=permit, headers=CBOR)
    assert same_session.json()["accepted"]
    done = second.wait_for(lambda i: i["active_permit"] is None)
    assert done["last_stop"]["reason"] == "energy_limit"
    assert done["last_stop"]["energy_wh"] == 5000
    second.kill()  # the receipt is not yet collected by any phone

    devices.append(Device(state))
    third = devices[-1]
    [item] = third.http.get("/link/receipts").json()["receipts"]
    receipt = read_receipt(b64url_decode(item["token"]), load_config(state).key.public_key)
    assert (receipt.permit_id.hex(), receipt.energy_wh, receipt.counter) == (permit_id, 5000, 1)
    refused = third.http.post("/link/permit", content=permit, headers=CBOR)
    assert refused.json()["reason"] == "superseded"
    assert third.info()["relay"] == "open"
    events = [line["event"] for line in third.lines]
    assert events[0] == "started" and events[-1] == "listening"


def test_a_running_device_owns_its_state_and_takes_scans(
    tmp_path: Path, devices: list[Device]
) -> None:
    import segno

    server = Server()
    state = tmp_path / "state"
    init_state(state, DEVICE_ID, server.trust)
    devices.append(Device(state))
    second_run = subprocess.run(
        [sys.executable, "-m", "device.cli", "run", "--state", str(state), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second_run.returncode == 2 and "already running" in second_run.stderr
    now = time.time()
    image = tmp_path / "permit.png"
    segno.make(to_text(server.permit(now, issued_at=now - 5)), error="m").save(image, scale=5)
    scan = subprocess.run(
        [sys.executable, "-m", "device.cli", "scan", "--state", str(state), str(image)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert scan.returncode == 0 and json.loads(scan.stdout)["accepted"]
    assert devices[-1].info()["state"] == "authorized"  # the running device got it
    devices[-1].proc.send_signal(signal.SIGTERM)
    assert devices[-1].proc.wait(timeout=10) == 0
