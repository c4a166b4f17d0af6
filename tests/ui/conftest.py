"""People at the pages: NiceGUI's simulated `User`, driving the whole app.

NiceGUI's own `user` / `create_user` fixtures reset NiceGUI's globals around each test and,
at the end, drop the modules of every page not under `tests.` from sys.modules: that would
be `app` itself, and the rest of the suite would then meet a second copy of every class.
They also talk to NiceGUI's app alone. These fixtures keep NiceGUI set up once, as
production does, and put each simulated person behind `create_app(services=...)`, so a
page is reached through the same routes as in a browser.
"""

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from nicegui import Client, ui
from nicegui.functions.download import download
from nicegui.functions.navigate import Navigate
from nicegui.functions.notify import notify
from nicegui.testing import User

from app.cli import migrate
from app.main import create_app
from app.services.container import Services
from app.settings import Settings

Person = Callable[..., User]
# Tries of `should_see` (0.1 s apart) for what follows a password check (~150 ms of argon2)
# or a round through the event bus.
SLOW = 50


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The pages' logic does not depend on the database: SQLite only."""
    settings = Settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'pp.db'}")
    migrate(settings)
    return settings


@pytest.fixture
async def person(services: Services, demo: dict) -> AsyncIterator[Person]:
    """`person()` is one more browser on the app, with its own cookies; an English one
    unless `person(accept_language=...)` says otherwise."""
    app = create_app(services=services)
    clients: list[httpx.AsyncClient] = []

    def new_person(accept_language: str = "en") -> User:
        """`accept_language`: the languages the browser asks pages in (Accept-Language)."""
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app),
            base_url="http://test",
            headers={"Accept-Language": accept_language},
        )
        clients.append(client)
        user = User(client)
        # What this browser's page asked it to run to empty the phone's wallet (sign out).
        user.wallet_clears = []  # type: ignore[attr-defined]
        user.javascript_rules[
            re.compile(r'.*localStorage\.removeItem\("powerpermit\.wallet"\)')
        ] = (
            lambda _match: user.wallet_clears.append(1) or True  # type: ignore[attr-defined]
        )
        return user

    try:
        async with app.router.lifespan_context(app):
            yield new_person
            for page in list(Client.instances.values()):
                page.delete()  # ends the pages' event subscriptions
    finally:
        for client in clients:
            await client.aclose()
        # A simulated User swaps these for its own; later tests get NiceGUI's back.
        ui.navigate, ui.notify, ui.download = Navigate(), notify, download


async def try_sign_in(user: User, login: str, password: str, path: str) -> None:
    await user.open(path)
    user.find("Login").type(login)
    user.find("Password").type(password)
    user.find("Sign in").click()


async def sign_in(user: User, login: str, password: str, path: str) -> None:
    """Signs in and waits for the page: NiceGUI's simulation has one `ui.navigate` for all
    simulated people, so a second person must not start before the first has arrived."""
    await try_sign_in(user, login, password, path)
    try:
        await user.should_see(marker="sign-out", retries=SLOW)  # in any language
    except AssertionError:
        # The simulation's one `ui.navigate` follows whichever simulated person was touched
        # last, so with several people on pages the redirect after sign-in can land in
        # another person's simulation. Opening the page again shows sign-out only if this
        # browser's session really is signed in.
        await user.open(path)
        await user.should_see(marker="sign-out", retries=SLOW)


async def eventually(check: Callable[[], bool]) -> None:
    """Waits, as long as `should_see` would, for a check the page has no text for."""
    for _ in range(SLOW):
        if check():
            return
        await asyncio.sleep(0.1)
    assert check()
