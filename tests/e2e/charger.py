"""A real `powerpermit-device run` process: the charger and its local link on loopback."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.http.live import ROOT

STARTUP_TIMEOUT_S = 30.0


class ChargerProcess:
    """`powerpermit-device run` whose link lets pages from `origin` use it, with a clock the
    test can move ahead (`jump_to`)."""

    def __init__(self, state: Path, origin: str, log_path: Path) -> None:
        self.state, self.origin, self.log_path = state, origin, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.clock_offset = log_path.with_name("charger-clock-offset")

    def start(self) -> None:
        command = [sys.executable, "-m", "device.cli", "run", "--state", str(self.state)]
        command += ["--port", "0", "--origin", self.origin]
        command += ["--clock-offset-file", str(self.clock_offset)]
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.url = self._wait_listening()

    def _wait_listening(self) -> str:
        """The link's URL, from the `listening` line `run` prints once it serves."""
        assert self.proc is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S  # a hang guard, not a measurement
        while time.monotonic() < deadline:
            for line in self.log().splitlines():
                if line.startswith("{") and json.loads(line).get("event") == "listening":
                    return str(json.loads(line)["url"])
            if self.proc.poll() is not None:
                raise RuntimeError(f"charger exited early:\n{self.log()}")
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"charger not listening after {STARTUP_TIMEOUT_S}s:\n{self.log()}")

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = httpx.get(f"{self.url}/link/info", timeout=10).json()
        return info

    def plug(self, **vehicle: Any) -> httpx.Response:
        """The vehicle's plug: hardware, so set from this machine (loopback), with no Origin."""
        return httpx.post(f"{self.url}/link/vehicle", json={"plugged": True, **vehicle}, timeout=10)

    def jump_to(self, moment: float) -> None:
        """Move the charger's clock ahead to `moment` (seconds since the epoch): the
        simulated time a test would otherwise wait for, such as a window's end."""
        written = self.clock_offset.with_suffix(".new")
        written.write_text(f"{max(0.0, moment - time.time()):.3f}\n")
        written.replace(self.clock_offset)  # the charger reads a whole number, never half

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


REGISTER = """
mutation Register($input: RegisterDeviceInput!) {
  registerDevice(input: $input) { __typename ... on Device { id linkUrl } }
}
"""


def device_tool(*args: str) -> dict[str, Any]:
    """`powerpermit-device ARGS`, as a technician runs it; its one JSON line."""
    done = subprocess.run(
        [sys.executable, "-m", "device.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def register(base_url: str, manager_token: str, state: Path, link_url: str) -> None:
    """The manager registers the charger with its key, its proof and its link's URL, which
    is where the driver's page posts permits to."""
    proved = device_tool("prove", "--state", str(state))
    variables = {
        "input": {
            "id": proved["device_id"],
            "name": "Bay 1",
            "siteId": "site-1",
            "publicKey": proved["public_key"],
            "proof": proved["proof"],
            "linkUrl": link_url,
        }
    }
    response = httpx.post(
        f"{base_url}/graphql",
        json={"query": REGISTER, "variables": variables},
        headers={"Authorization": f"Bearer {manager_token}"},
        timeout=30,
    )
    registered = response.json()["data"]["registerDevice"]
    assert registered == {"__typename": "Device", "id": "ch-1", "linkUrl": link_url}, response.text
