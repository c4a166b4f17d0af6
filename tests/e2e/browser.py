"""Debian's Chromium driven by playwright, on a network that reaches only our own servers.

Never a downloaded browser: playwright starts /usr/bin/chromium (the `chromium` package,
which .ci/run installs). The flags keep Chromium from calling home at start-up; the guard
blocks every request to any other host, so a page that needs the internet fails here.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Route, WebSocket

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def require_chromium() -> None:
    """Skip without the browser; in CI, which installs it, that is a failure instead."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: apt-get install chromium (as .ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(f"CI installs Chromium, yet {reason}")  # never skip silently in CI
    pytest.skip(reason)


@dataclass
class Guard:
    """Lets a context reach only `allowed` (scheme://host:port origins); remembers the rest."""

    allowed: set[str]
    blocked: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> BrowserContext:
        context.route("**/*", self._route)
        # Routing does not see websockets: a foreign one is only noted, and fails the test.
        context.on("page", lambda page: page.on("websocket", self._socket))
        return context

    def _route(self, route: Route) -> None:
        if self._allows(route.request.url):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    def _socket(self, socket: WebSocket) -> None:
        if not self._allows(socket.url):
            self.blocked.append(socket.url)

    def _allows(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob"):
            return True
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        return f"{scheme}://{parts.netloc}" in self.allowed
