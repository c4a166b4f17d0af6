"""The driver and the manager in a real browser, against a real server and a real charger.

Steps, each screenshotted into var/e2e-screenshots/ (numbered in order):
1. the driver signs in on a 390x844 phone viewport at /app;
2. asks for a slot longer than the automatic-approval limit: it waits for a manager;
3. the manager signs in at /manage in a second browser context and sees it in the queue;
4. approves it; the driver's page turns Approved without a reload and shows the permit QR;
5. the QR, as the page draws it, decodes (zxing-cpp) to a PP1: permit that verifies against
   the server's published keys;
6. the wallet at /app/wallet, in another tab, shows the permit's QR with the browser
   context offline;
7. Send to charger: the page's own JavaScript posts the permit to the charger's local link;
   the charger's /link/info shows it; a vehicle is plugged (loopback) and the relay closes;
8. the window ends on the charger's simulated clock (`run --clock-offset-file`: the test
   moves it to the window's end rather than wait 3 h): the relay opens by itself, and the
   charger signs a receipt for the energy it metered up to the window's end;
9. Sync with charger uploads the receipt and hands the server's acknowledgement back, so
   the charger lets go of it; the request reads Completed;
10. the manager's usage chart shows the energy of that receipt.

The server's clock stays real: it takes the charger's word for when the window ended (the
signed receipt's times), so only the charger's clock needs to move.

Every other host is blocked; the guard fixture fails the test if a page asked for one.
"""

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import zxingcpp
from PIL import Image, ImageOps
from playwright.sync_api import Browser, BrowserContext, Page, expect

from device.clock import parse_iso
from device.protocol.keys import TrustList
from device.verifier import Decision, evaluate
from tests.e2e.browser import DESKTOP, PHONE, Guard
from tests.e2e.conftest import Stack, shoot

DEADLINE_MS = 30_000  # hang guards for pages on a busy 2-core machine, not measurements
TIMEZONE = "Europe/Berlin"  # the demo site's
CHARGER_NAME = "Bay 1 · Riverside Depot"
NEEDS_MANAGER = "3 h"  # over the demo site's automatic approval (up to 2 h)
CHARGED_WH = 10.0
VEHICLE_W = 11_000  # the simulated vehicle's maximum, under the charger's (demo: 11 kW)


def test_a_driver_gets_a_managers_approval_and_charges(
    browser: Browser, stack: Stack, guard: Guard, screenshots: Path
) -> None:
    driver_context = guard.watch(browser.new_context(viewport=PHONE))
    manager_context = guard.watch(browser.new_context(viewport=DESKTOP))
    try:
        driver = driver_context.new_page()
        sign_in(driver, f"{stack.base_url}/app", stack.accounts["user"], screenshots, "01")
        expect(driver.get_by_role("button", name="Request")).to_be_visible(timeout=DEADLINE_MS)

        # Starting now (to the minute, inside the site's start grace), so the charger may
        # close its relay while the test runs.
        start = datetime.now(UTC).astimezone(ZoneInfo(TIMEZONE))
        ask_for_slot(driver, start)
        shoot(driver, screenshots, "02-driver-request")
        driver.get_by_role("button", name="Request").click()
        # In a card: the toast says the same words. Strict: the request is listed once.
        status = driver.locator(".q-card").get_by_text("Waiting for a manager", exact=True)
        expect(status).to_be_visible(timeout=DEADLINE_MS)
        shoot(driver, screenshots, "03-driver-waiting")

        driver.evaluate("window.e2eSamePage = true")  # gone if the page were reloaded

        manager = manager_context.new_page()
        sign_in(manager, f"{stack.base_url}/manage", stack.accounts["manager"], screenshots, "04")
        waiting = manager.locator(".q-card").filter(has_text="Udo Driver")
        expect(waiting).to_be_visible(timeout=DEADLINE_MS)
        expect(waiting).to_contain_text(f"{start:%Y-%m-%d %H:%M}")
        shoot(manager, screenshots, "05-manager-queue")
        waiting.get_by_role("button", name="Approve").click()
        expect(manager.get_by_text("Waiting for a manager: 0")).to_be_visible(timeout=DEADLINE_MS)
        shoot(manager, screenshots, "06-manager-approved")

        # No reload: the driver's page learns of the decision by itself.
        approved = driver.locator(".q-card").get_by_text("Approved", exact=True)
        expect(approved).to_be_visible(timeout=DEADLINE_MS)
        assert driver.evaluate("window.e2eSamePage === true")
        qr = driver.get_by_role("img", name="Permit QR code")
        expect(qr).to_be_visible(timeout=DEADLINE_MS)
        # The request's toast fades by itself; until then it may cover the code.
        expect(driver.locator(".q-notification")).to_have_count(0, timeout=DEADLINE_MS)
        shoot(driver, screenshots, "07-driver-permit")
        qr_picture = screenshots / "07-permit-qr.png"
        qr.screenshot(path=qr_picture)

        text = decode_qr(qr_picture)
        assert text.startswith("PP1:"), text
        verdict = verify(text, stack)
        assert verdict.accepted, verdict.to_json()

        wallet_offline(driver_context, stack, screenshots)

        # The page's own JavaScript posts the permit to the charger's link: not the server.
        driver.get_by_role("button", name="Send to charger").click()
        answer = driver.get_by_text("The charger accepted the permit.")
        expect(answer).to_be_visible(timeout=DEADLINE_MS)
        shoot(driver, screenshots, "09-driver-at-charger")
        active = stack.charger.info()["active_permit"]
        assert active is not None and active["permit_id"] == verdict.to_json()["permit_id"]

        plugged = stack.charger.plug(soc=0.2)
        assert plugged.status_code == 200, plugged.text
        assert wait_for(stack, lambda info: info["relay"] == "closed")["power_w"] > 0

        charging = wait_for(stack, lambda info: info["active_permit"]["energy_wh"] > 0)
        assert charging["relay"] == "closed"

        # The window ends: the charger's clock moves to its end, the relay opens by itself,
        # and the charger signs a receipt, which it keeps until a phone syncs it.
        window_end = parse_iso(charging["active_permit"]["expires_at"])
        jumped_at = time.time()
        stack.charger.jump_to(window_end + 1)
        ended = wait_for(stack, lambda info: info["unsent_receipts"] == 1)
        assert ended["relay"] == "open" and ended["active_permit"] is None
        last = ended["last_stop"]
        assert last["reason"] == "window_end" and parse_iso(last["at"]) == window_end
        # Metered at the vehicle's 11 kW through the simulated hours, up to the window's end.
        assert last["energy_wh"] >= VEHICLE_W * (window_end - jumped_at) / 3600 >= CHARGED_WH
        show_charger(driver_context, stack, screenshots, "09-driver-window-ended")

        driver.get_by_role("button", name="Sync with charger").click()
        expect(driver.get_by_text(re.compile(r"^1 receipt uploaded"))).to_be_visible(
            timeout=DEADLINE_MS
        )
        shoot(driver, screenshots, "10-driver-synced")
        # The server's acknowledgement went back through the page: the charger let go.
        assert wait_for(stack, lambda info: info["unsent_receipts"] == 0)["unsent_receipts"] == 0
        # So did the server's trust list: the charger, commissioned from the published keys,
        # now holds the signed document (and takes a rotation's new key the same way).
        trusted = driver.get_by_text(re.compile(r"^Trust list 0 handed to the charger"))
        expect(trusted).to_be_visible(timeout=DEADLINE_MS)
        assert stack.charger.info()["trust_sequence"] == 0
        finished = driver.locator(".q-card").get_by_text("Completed", exact=True)
        expect(finished).to_be_visible(timeout=DEADLINE_MS)

        # The receipt's energy on the manager's usage chart.
        manager.goto(f"{stack.base_url}/manage/usage")
        charted = charted_kwh(manager, "Bay 1")
        assert charted * 1000 >= CHARGED_WH
        manager.wait_for_timeout(1500)  # ECharts grows its bars for 1 s: for the picture only
        shoot(manager, screenshots, "11-manager-usage")

    finally:
        driver_context.close()
        manager_context.close()


def test_a_driver_stops_charging_from_the_phone(
    browser: Browser, stack: Stack, guard: Guard, screenshots: Path
) -> None:
    """Stop charging (the page's JavaScript proves holding the session to the charger) ends
    a session before its window does; the receipt syncs like any other. A slot of 1 h is
    approved automatically; it starts at the charger's own time, which the test above may
    have moved ahead."""
    context = guard.watch(browser.new_context(viewport=PHONE))
    try:
        driver = context.new_page()
        sign_in(driver, f"{stack.base_url}/app", stack.accounts["user2"], screenshots, "20")
        charger_time = parse_iso(stack.charger.info()["trusted_time"])
        start = datetime.fromtimestamp(charger_time // 60 * 60, ZoneInfo(TIMEZONE))
        ask_for_slot(driver, start, "1 h")
        driver.get_by_role("button", name="Request").click()
        approved = driver.locator(".q-card").get_by_text("Approved", exact=True)
        expect(approved).to_be_visible(timeout=DEADLINE_MS)
        expect(driver.locator(".q-notification")).to_have_count(0, timeout=DEADLINE_MS)
        driver.get_by_role("button", name="Send to charger").click()
        expect(driver.get_by_text("The charger accepted the permit.")).to_be_visible(
            timeout=DEADLINE_MS
        )
        if stack.charger.info()["vehicle"] is None:
            assert stack.charger.plug(soc=0.2).status_code == 200
        charging = wait_for(stack, lambda info: info["relay"] == "closed")
        assert charging["relay"] == "closed", charging

        driver.get_by_role("button", name="Stop charging").click()
        expect(driver.get_by_text("Charging stopped.")).to_be_visible(timeout=DEADLINE_MS)
        stopped = wait_for(stack, lambda info: info["unsent_receipts"] == 1)
        assert stopped["relay"] == "open" and stopped["last_stop"]["reason"] == "user_stop"
        shoot(driver, screenshots, "21-driver-stopped")
        driver.get_by_role("button", name="Sync with charger").click()
        expect(driver.get_by_text(re.compile(r"^1 receipt uploaded"))).to_be_visible(
            timeout=DEADLINE_MS
        )
        assert wait_for(stack, lambda info: info["unsent_receipts"] == 0)["unsent_receipts"] == 0
    finally:
        context.close()


def sign_in(page: Page, url: str, account: dict[str, str], folder: Path, step: str) -> None:
    page.goto(url)
    expect(page).to_have_url(re.compile(r"/sign-in"), timeout=DEADLINE_MS)
    page.get_by_label("Login").fill(account["login"])
    page.get_by_label("Password").fill(account["password"])
    shoot(page, folder, f"{step}-sign-in-{account['login']}")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(url) + "$"), timeout=DEADLINE_MS)


def ask_for_slot(page: Page, start: datetime, duration: str = NEEDS_MANAGER) -> None:
    page.get_by_label("Charger").click()
    page.get_by_role("option", name=CHARGER_NAME).click()
    # A closing menu stays in the page a moment: wait until none is left, so the next
    # menu is the only one (a strict locator once found both).
    expect(page.get_by_role("listbox")).to_have_count(0, timeout=DEADLINE_MS)
    page.get_by_label("Date").fill(f"{start:%Y-%m-%d}")
    page.get_by_label("Start time").fill(f"{start:%H:%M}")
    page.get_by_label("Duration").click()
    page.get_by_role("option", name=duration, exact=True).click()
    expect(page.get_by_role("listbox")).to_have_count(0, timeout=DEADLINE_MS)  # menu closed


def decode_qr(picture: Path) -> str:
    # The element's picture ends at the code's own 2-module border; a camera would see
    # the white card around it too.
    found = zxingcpp.read_barcodes(ImageOps.expand(Image.open(picture), 40, "white"))
    assert len(found) == 1, f"{len(found)} codes in {picture}"
    return str(found[0].text)


def verify(text: str, stack: Stack) -> Decision:
    """The charger's own verifier, trusting the keys the server publishes."""
    keys = httpx.get(f"{stack.base_url}/.well-known/permit-keys", timeout=10).json()
    return evaluate(
        text.encode(),
        device_id=stack.charger_id,
        trust=TrustList.from_jwks(keys),
        now=time.time(),
        revoked=frozenset(),
        skew_s=60,
        is_used=lambda _: False,
        active=None,
    )


def wait_for(stack: Stack, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The charger's /link/info once `done` holds (it acts on its own ticks)."""
    deadline = time.monotonic() + DEADLINE_MS / 1000  # a hang guard
    info = stack.charger.info()
    while not done(info) and time.monotonic() < deadline:
        time.sleep(0.1)
        info = stack.charger.info()
    return info


def charted_kwh(page: Page, charger: str) -> float:
    """What the "Energy per charger" chart draws for `charger`, once it draws some: read from
    the chart itself, for its canvas holds no text."""
    found = page.wait_for_function(
        """(charger) => {
          for (const el of document.querySelectorAll(".nicegui-echart")) {
            const option = getElement(el)?.chart?.getOption();
            if (option?.title?.[0]?.text === "Energy per charger") {
              const kwh = option.series[0].data[option.xAxis[0].data.indexOf(charger)];
              if (kwh > 0) return kwh;
            }
          }
          return null;
        }""",
        arg=charger,
        timeout=DEADLINE_MS,
    )
    return float(found.json_value())


def show_charger(context: BrowserContext, stack: Stack, folder: Path, name: str) -> None:
    """A picture of what the charger says of itself (its /link/info, as a browser shows it)."""
    page = context.new_page()
    try:
        page.goto(f"{stack.charger.url}/link/info")
        expect(page.get_by_text('"window_end"')).to_be_visible(timeout=DEADLINE_MS)
        shoot(page, folder, name)
    finally:
        page.close()


def wallet_offline(context: BrowserContext, stack: Stack, folder: Path) -> None:
    """The wallet, in another tab of the driver's phone, shows the permit the app page kept,
    with the network gone (a parking garage). Before charging: a used permit leaves it."""
    page = context.new_page()
    try:
        page.goto(f"{stack.base_url}/app/wallet")
        qr = page.get_by_role("img", name="Permit QR code")
        expect(qr).to_be_visible(timeout=DEADLINE_MS)
        # The service worker keeps the page only once it is active.
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        context.set_offline(True)
        try:
            page.reload()
            expect(qr).to_be_visible(timeout=DEADLINE_MS)
            assert page.evaluate("navigator.serviceWorker.controller !== null")  # it answered
            shoot(page, folder, "08-wallet-offline")
        finally:
            context.set_offline(False)
    finally:
        page.close()
