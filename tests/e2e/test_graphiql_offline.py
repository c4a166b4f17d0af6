"""GraphiQL at /graphql renders and runs a query with every host but the server blocked."""

import re
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.e2e.browser import DESKTOP, Guard
from tests.e2e.conftest import Stack, shoot

DEADLINE_MS = 30_000  # a hang guard for a 1.5 MB page on a busy machine, not a measurement


def test_graphiql_works_without_the_internet(
    browser: Browser, stack: Stack, guard: Guard, screenshots: Path
) -> None:
    context = guard.watch(browser.new_context(viewport=DESKTOP))
    try:
        page = context.new_page()
        page.goto(f"{stack.base_url}/graphql?q=%7B__typename%7D")
        run = page.get_by_role("button", name=re.compile("Execute query", re.I))
        expect(run).to_be_visible(timeout=DEADLINE_MS)
        run.click()
        expect(page.locator(".graphiql-response")).to_contain_text('"Query"', timeout=DEADLINE_MS)
        shoot(page, screenshots, "graphiql")
    finally:
        context.close()
