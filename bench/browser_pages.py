"""The manager console with 100,000 requests in the store, timed in a real browser.

Run: `.venv/bin/python bench/browser_pages.py [--requests 100000] [--runs 5] [--asks 20]`.

Builds a store (bench/browser_store.py: the demo site with 50 chargers, 200 drivers and
`--requests` requests, each with its audit entries), starts `powerpermit serve` on it, and
drives Debian's Chromium (/usr/bin/chromium through playwright; never a downloaded browser)
as the demo manager on a 1280x800 window:

- click-to-painted for the Requests page (first page of 25), the Timeline (one day, 50
  chargers) and the Audit log (first page): from the click on the console's navigation
  link until a frame in which the new page shows its rows or its chart's bars (a
  requestAnimationFrame poll), median of `--runs` (target < 1 s); beside them the
  approval queue, a page with a few rows, as the baseline any console page costs;
- from a driver's **Request** click (a second browser context, the phone app) until the
  request shows on the manager's open approval queue, median of `--asks`;
- server-side, in-process on the same store: the audit log's first page of the site
  through `audit_trail` against the query it replaced (entries found through what they
  changed, before migration 0007), median of 20 each, and the ratio.

Times are wall-clock in this process around playwright calls, so each includes a few
milliseconds of playwright's own round trips; on this 2-core machine the server, Chromium
and this script share the cores.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from bench import browser_store  # noqa: E402
from tests.e2e.browser import CHROMIUM, DESKTOP, FLAGS, PHONE  # noqa: E402
from tests.e2e.test_driver_flow import ask_for_slot, sign_in  # noqa: E402
from tests.http.live import ServerProcess, free_port  # noqa: E402

TARGET_S = 1.0
WAIT_MS = 60_000  # a hang guard, not a measurement
ROWS = "() => document.querySelectorAll('.q-table tbody tr td').length > 0"
QUEUE = "() => document.body.innerText.includes('Waiting for a manager:')"
CHART = """() => [...document.querySelectorAll('.nicegui-echart')].some(el => {
  const option = getElement(el)?.chart?.getOption();
  return option && option.series.some(s => (s.data || []).length > 0);
})"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--asks", type=int, default=20)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium (as .ci/run does)")
    with tempfile.TemporaryDirectory(prefix="pp-browser-bench-") as tmp:
        data_dir = Path(tmp)
        print(f"store: {args.requests:,} requests at the demo site", file=sys.stderr)
        started = time.monotonic()
        accounts = browser_store.build(data_dir, args.requests)
        print(f"store built in {time.monotonic() - started:.1f} s", file=sys.stderr)
        audit_before_after(data_dir)
        server = ServerProcess(data_dir, free_port(), data_dir / "server.log")
        server.start()
        try:
            in_the_browser(f"http://127.0.0.1:{server.port}", accounts, args.runs, args.asks)
        finally:
            server.stop()


def in_the_browser(base: str, accounts: dict[str, Any], runs: int, asks: int) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            manager = browser.new_context(viewport=DESKTOP).new_page()
            shots = Path(tempfile.gettempdir())  # sign_in's own screenshots: not kept
            sign_in(manager, f"{base}/manage", accounts["manager"], shots, "bench")
            report("Requests page, first page", [
                click_to_painted(manager, "Requests", ROWS) for _ in range(runs)
            ])  # fmt: skip
            report("Timeline, one day", [
                click_to_painted(manager, "Timeline", CHART) for _ in range(runs)
            ])  # fmt: skip
            report("Audit log, first page", [
                click_to_painted(manager, "Audit log", ROWS) for _ in range(runs)
            ])  # fmt: skip
            # The same navigation to a page with little data: what any console page costs
            # here (a document load, NiceGUI's scripts, its socket), whatever the store holds.
            report("Baseline: Approval queue (a few rows)", [
                click_to_painted(manager, "Approval queue", QUEUE) for _ in range(runs)
            ])  # fmt: skip
            driver = browser.new_context(viewport=PHONE).new_page()
            sign_in(driver, f"{base}/app", accounts["user"], shots, "bench")
            expect(driver.get_by_role("button", name="Request")).to_be_visible(timeout=WAIT_MS)
            manager.goto(f"{base}/manage")
            seen = [request_to_console(driver, manager, day) for day in range(asks)]
            report("Request click to the manager's queue", seen, target=None)
            # Other work on the machine shows in these figures: the load says how much.
            print("load average (1, 5, 15 min): {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
        finally:
            browser.close()


def click_to_painted(page: Page, link: str, painted: str) -> float:
    """From a click on the console's navigation link to the first frame showing `painted`.
    Starts from another console page, so each run loads the page anew."""
    page.get_by_role("link", name="Site policy", exact=True).click()
    page.wait_for_url("**/manage/policy", timeout=WAIT_MS)
    page.wait_for_load_state("networkidle", timeout=WAIT_MS)
    started = time.perf_counter()
    page.get_by_role("link", name=link, exact=True).click()
    page.wait_for_function(painted, polling="raf", timeout=WAIT_MS)
    return time.perf_counter() - started


def request_to_console(driver: Page, manager: Page, n: int) -> float:
    """The driver asks for a slot that needs a manager, on a day beyond the store's own
    slots; the time until the manager's queue, already open, counts it."""
    waiting = int(
        manager.get_by_text("Waiting for a manager:").inner_text().rsplit(":", 1)[1].strip()
    )
    day = date.today() + timedelta(days=10 + n)
    start = datetime(day.year, day.month, day.day, 10, tzinfo=ZoneInfo(browser_store.TIMEZONE))
    ask_for_slot(driver, start)
    shown = f"Waiting for a manager: {waiting + 1}"
    started = time.perf_counter()
    driver.get_by_role("button", name="Request").click()
    manager.wait_for_function(
        "(text) => document.body.innerText.includes(text)",
        arg=shown,
        polling="raf",
        timeout=WAIT_MS,
    )
    elapsed = time.perf_counter() - started
    # The driver's page confirms too before the next ask (one ask at a time).
    status = driver.locator(".q-card").get_by_text("Waiting for a manager", exact=True)
    expect(status.first).to_be_visible(timeout=WAIT_MS)
    return elapsed


def audit_before_after(data_dir: Path) -> None:
    """The audit log's first page for the demo site, server-side: now, and as it was read
    before its entries named their site."""
    from app.domain.model import Role, User
    from app.services.audit_trail import AuditQuery, audit_trail
    from app.services.container import build_services
    from app.settings import Settings
    from app.store import tables as t

    settings = Settings(data_dir, f"sqlite+aiosqlite:///{data_dir / 'powerpermit.db'}")
    services = build_services(settings)
    manager = User("m1", "manager", "Mia Manager", Role.MANAGER)
    a, r, d, p = t.audit_log, t.usage_requests, t.devices, t.permits
    sites = [browser_store.SITE]
    requests = sa.select(sa.cast(r.c.id, sa.String)).where(r.c.site_id.in_(sites))
    devices = sa.select(d.c.id).where(d.c.site_id.in_(sites))
    of_site = sa.or_(  # app/store/console.py's _of_sites before migration 0007
        (a.c.entity == "usage_request") & a.c.entity_id.in_(requests),
        (a.c.entity == "device") & a.c.entity_id.in_(devices),
        (a.c.entity == "permit")
        & a.c.entity_id.in_(
            sa.select(p.c.id).join(d, d.c.id == p.c.device_id).where(d.c.site_id.in_(sites))
        ),
        (a.c.entity == "site") & a.c.entity_id.in_(sites),
    )

    def before(conn: Any) -> int:
        page = sa.select(a).where(of_site).order_by(a.c.id.desc()).limit(25)
        rows = conn.execute(page).all()
        total = conn.execute(sa.select(sa.func.count()).select_from(a).where(of_site)).scalar()
        return len(rows) + int(total)

    async def go() -> tuple[list[float], list[float], int]:
        try:
            old, new = [], []
            for _ in range(20):
                old.append(await timed(lambda: services.db.read(before)))
                new.append(
                    await timed(
                        lambda: audit_trail(
                            services, manager, AuditQuery(browser_store.SITE), offset=0, limit=25
                        )
                    )
                )
            page = await audit_trail(
                services, manager, AuditQuery(browser_store.SITE), offset=0, limit=25
            )
            return old, new, page.total
        finally:
            await services.db.dispose()

    old, new, total = asyncio.run(go())
    print(f"Audit log first page, server-side ({total:,} entries at the site, SQLite):")
    print(f"  before 0007 (found through their subjects): p50 {ms(old)}")
    print(f"  now (site_id, at):                           p50 {ms(new)}")
    print(f"  ratio: {statistics.median(old) / statistics.median(new):.0f}x faster")


async def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.1f} ms"


def report(what: str, samples: list[float], target: float | None = TARGET_S) -> None:
    median = statistics.median(samples)
    verdict = "" if target is None else ("  (under 1 s)" if median < target else "  OVER 1 s")
    spread = f"min {min(samples) * 1000:.0f}, max {max(samples) * 1000:.0f} ms"
    print(f"{what}: median {median * 1000:.0f} ms of {len(samples)} ({spread}){verdict}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
