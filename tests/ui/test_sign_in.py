from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from nicegui import ui

from app.services.container import Services
from app.store import tables as t
from app.ui import sign_in as sign_in_page
from tests.conftest import Clock
from tests.ui.conftest import SLOW, Person, sign_in, try_sign_in


async def test_a_signed_out_visitor_is_sent_to_sign_in(person: Person) -> None:
    user = person()
    await user.open("/manage")
    await user.should_see("Login", retries=SLOW)
    await user.should_see("Password", retries=SLOW)
    await user.should_see("Sign in", retries=SLOW)
    await user.should_not_see("Approval queue")


async def test_a_wrong_password_says_so_without_telling_whether_the_login_exists(
    person: Person, demo: dict[str, Any]
) -> None:
    user = person()
    await try_sign_in(user, demo["manager"]["login"], "not-the-password", "/manage")
    await user.should_see("Wrong login or password.", retries=SLOW)
    await user.should_not_see("Approval queue")

    stranger = person()
    await try_sign_in(stranger, "nobody-by-this-name", "not-the-password", "/manage")
    await stranger.should_see("Wrong login or password.", retries=SLOW)


async def test_a_manager_signs_in_and_out(
    person: Person, demo: dict[str, Any], services: Services
) -> None:
    user = person()
    await sign_in(user, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    await user.should_see("Approval queue", retries=SLOW)
    await user.should_see("Mia Manager", retries=SLOW)
    assert await session_tokens(services) == 1
    await user.open("/sign-in?next=/manage")  # already signed in: straight through
    await user.should_see("Approval queue", retries=SLOW)

    user.find("Sign out").click()
    await user.should_see("Sign in", retries=SLOW)
    assert await session_tokens(services) == 0  # the page's bearer token is withdrawn
    await user.open("/manage")
    await user.should_see("Sign in", retries=SLOW)


async def test_a_driver_opening_the_manager_console_is_told_it_is_for_managers(
    person: Person, demo: dict[str, Any]
) -> None:
    user = person()
    await sign_in(user, demo["user"]["login"], demo["user"]["password"], "/manage")
    await user.should_see("Managers only", retries=SLOW)
    await user.should_see("Udo Driver", retries=SLOW)


async def test_a_session_unused_for_too_long_ends(
    person: Person, demo: dict[str, Any], clock: Clock, services: Services
) -> None:
    user = person()
    await sign_in(user, demo["user"]["login"], demo["user"]["password"], "/app")
    await user.should_see("Charging", retries=SLOW)
    clock.advance(timedelta(minutes=29))
    await user.open("/app")  # use keeps it alive
    await user.should_see("Charging", retries=SLOW)
    clock.advance(timedelta(minutes=31))
    await user.open("/app")
    await user.should_see("Sign in", retries=SLOW)
    assert await session_tokens(services) == 0


async def session_tokens(services: Services) -> int:
    """Bearer tokens that sign-ins issued (the demo's own tokens are named "demo")."""
    query = sa.select(sa.func.count()).where(t.api_tokens.c.name == "login")
    return int(await services.db.read(lambda conn: conn.execute(query).scalar_one()))


async def test_signing_in_returns_to_the_page_the_visitor_asked_for(
    person: Person, demo: dict[str, Any]
) -> None:
    manager = person()
    asked = "/manage/requests?status=APPROVED"
    await try_sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], asked)
    await manager.should_see("Export CSV", retries=SLOW)  # the requests page, not the queue
    assert manager.back_history[-1] == asked

    driver = person()
    await try_sign_in(driver, demo["user"]["login"], demo["user"]["password"], "/app/")
    await driver.should_see("Start time", retries=SLOW)


@pytest.mark.parametrize(
    "next",
    [
        "//evil.example/manage",
        "https://evil.example/manage",
        "http:/evil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "/%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "/%252F%252Fevil.example",
        "/manage/../..//evil.example",
        "/manage/%2e%2e/%2e%2e//evil.example",
        "/manage\t/x",
        "/managed",
        "/appstore",
        "/graphql",
        "/sign-in",
        "javascript:alert(1)",
        "",
    ],
)
def test_a_sign_in_link_never_sends_anyone_elsewhere(next: str) -> None:
    assert sign_in_page.destination(next) == "/app"


@pytest.mark.parametrize(
    "next",
    ["/manage", "/manage/requests?status=APPROVED&first_day=2026-11-27", "/app", "/app/wallet"],
)
def test_a_sign_in_link_may_return_to_any_page_of_the_apps(next: str) -> None:
    assert sign_in_page.destination(next) == next


async def test_signing_out_empties_the_phones_wallet(person: Person, demo: dict[str, Any]) -> None:
    driver = person()
    await sign_in(driver, demo["user"]["login"], demo["user"]["password"], "/app")
    await driver.should_see("Start time", retries=SLOW)
    assert driver.wallet_clears == []
    driver.find(marker="sign-out").click()
    await driver.should_see("Sign in", retries=SLOW)
    assert driver.wallet_clears == [1]  # the page had the browser empty it before leaving


async def test_a_session_that_ends_on_a_page_signs_in_again_back_to_that_page(
    person: Person, demo: dict[str, Any], clock: Clock
) -> None:
    manager = person()
    await sign_in(manager, demo["manager"]["login"], demo["manager"]["password"], "/manage")
    await manager.open("/manage/policy")
    await manager.should_see("Open requests per driver", retries=SLOW)
    clock.advance(timedelta(minutes=31))
    manager.find(kind=ui.button, content="Save").click()  # the session has ended meanwhile
    await manager.should_see("Password", retries=SLOW)
    manager.find("Login").type(demo["manager"]["login"])
    manager.find("Password").type(demo["manager"]["password"])
    manager.find("Sign in").click()
    await manager.should_see("Open requests per driver", retries=SLOW)
    assert manager.back_history[-1] == "/manage/policy"


async def test_repeated_wrong_passwords_make_the_page_ask_to_wait(
    person: Person, demo: dict[str, Any]
) -> None:
    """Past the free failures even the right password waits, and the page says why."""
    login = demo["manager"]["login"]
    for _ in range(5):
        user = person()
        await try_sign_in(user, login, "not-the-password", "/manage")
        await user.should_see("Wrong login or password.", retries=SLOW)
    user = person()
    await try_sign_in(user, login, demo["manager"]["password"], "/manage")
    await user.should_see("Too many sign-in attempts. Try again in a moment.", retries=SLOW)
    await user.should_not_see("Approval queue")
