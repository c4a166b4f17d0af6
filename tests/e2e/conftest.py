"""Real processes for the browser tests: `powerpermit serve` with the demo site, one
commissioned `powerpermit-device run` charger, and Debian's Chromium.

Screenshots of every step go to var/e2e-screenshots/ (printed at the end of the run);
`make screenshots` copies the README's from there.
"""

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.browser import CHROMIUM, FLAGS, Guard, require_chromium
from tests.e2e.charger import ChargerProcess, device_tool, register
from tests.http.live import ROOT, ServerProcess, free_port, prepare

SCREENSHOTS = ROOT / "var" / "e2e-screenshots"
CHARGER_ID = "ch-1"  # one of the demo site's chargers


@dataclass(frozen=True)
class Stack:
    """The server, its demo accounts and the charger it commissioned."""

    base_url: str
    accounts: dict[str, dict[str, str]]  # "manager" | "user" -> login, password, token
    charger: ChargerProcess
    charger_id: str

    @property
    def origins(self) -> set[str]:
        return {self.base_url, self.charger.url}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_chromium()  # before the slow part: without a browser nothing here runs
    data_dir = tmp_path_factory.mktemp("powerpermit-e2e")
    accounts = prepare(data_dir)
    port = free_port()
    server = ServerProcess(data_dir, port, data_dir / "server.log")
    base_url = f"http://127.0.0.1:{port}"
    state = data_dir / "charger"
    charger = ChargerProcess(state, base_url, data_dir / "charger.log")
    try:
        server.start()
        # Commissioned as a technician and a manager would: the charger trusts the keys the
        # server publishes, then the manager registers its key and its link's address.
        keys = f"{base_url}/.well-known/permit-keys"
        device_tool("init", "--state", str(state), "--device-id", CHARGER_ID, "--trust", keys)
        charger.start()
        register(base_url, accounts["manager"]["token"], state, charger.url)
        yield Stack(base_url, accounts, charger, CHARGER_ID)
    finally:
        charger.stop()
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def guard(stack: Stack) -> Iterator[Guard]:
    """Every context a test opens goes through it; afterwards nothing may have been blocked:
    a blocked request is one the page needed from a host a site network cannot reach."""
    watching = Guard(stack.origins)
    yield watching
    assert watching.blocked == [], f"requests to other hosts: {watching.blocked}"


@pytest.fixture(scope="session")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


def shoot(page: Page, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    # From the top: a full-page shot of a scrolled page draws the fixed header mid-page.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True)
    return path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOTS.exists() and any(SCREENSHOTS.iterdir()):
        terminalreporter.write_line(f"e2e screenshots: {SCREENSHOTS}")
