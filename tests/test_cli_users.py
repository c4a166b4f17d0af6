"""`powerpermit user create|list|disable|set-password|grant`, run through the real command
line on a migrated SQLite store, then checked the way a person would: by signing in."""

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cli import main
from app.main import create_app
from app.services import user_admin
from app.services.container import Services, build_services
from app.services.demo import seed_demo
from app.settings import Settings
from tests.conftest import GraphQLClient
from tests.schema.queries import LIST_REQUESTS
from tests.schema.test_request_usage import ask

LOGIN = """
mutation ($login: String!, $password: String!) {
  login(login: $login, password: $password) {
    __typename
    ... on Session { token me { role } }
  }
}
"""
ME = "{ me { login role } }"
WITHIN_S = 1.0  # how soon every server process must refuse a disabled user's token


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("POWERPERMIT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    yield Settings(tmp_path, f"sqlite:///{tmp_path / 'powerpermit.db'}")


@pytest.fixture
async def server(store: Settings) -> AsyncIterator[tuple[Services, GraphQLClient]]:
    """The app a server process would run, on the same store as the command line."""
    services = build_services(store)
    seed_demo(services, store.data_dir)
    transport = httpx.ASGITransport(app=create_app(services=services))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield services, GraphQLClient(client)
    await services.db.dispose()


async def user(monkeypatch: pytest.MonkeyPatch, *args: str, password: str | None = None) -> int:
    """The command line in a thread, as it runs its own event loop."""
    if password is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return await asyncio.to_thread(main, ["user", *args])


async def sign_in(gql: GraphQLClient, login: str, password: str) -> dict[str, Any]:
    body = await gql(LOGIN, {"login": login, "password": password})
    result: dict[str, Any] = body["data"]["login"]
    return result


async def test_created_user_signs_in_with_their_password(
    server: tuple[Services, GraphQLClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, gql = server
    args = ["create", "--login", "ada", "--name", "Ada L", "--role", "driver"]
    assert await user(monkeypatch, *args, "--password-stdin", password="correct horse") == 0
    session = await sign_in(gql, "ada", "correct horse")
    assert session["__typename"] == "Session" and session["me"]["role"] == "user"
    assert (await sign_in(gql, "ada", "wrong"))["__typename"] == "LoginFailed"


async def test_bad_input_is_refused_and_changes_nothing(
    server: tuple[Services, GraphQLClient],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    services, gql = server
    before = await user_admin.list_users(services)
    again = ["create", "--login", "user", "--name", "Someone", "--password-stdin"]
    assert await user(monkeypatch, *again, password="another") == 2
    assert "already exists" in capsys.readouterr().err
    assert (await sign_in(gql, "user", "another"))["__typename"] == "LoginFailed"
    assert await user(monkeypatch, "disable", "nobody") == 2
    assert "no user with login 'nobody'" in capsys.readouterr().err
    assert await user(monkeypatch, "grant", "user", "--site", "no-such-site") == 2
    assert "no site 'no-such-site'" in capsys.readouterr().err
    assert await user_admin.list_users(services) == before


async def test_disable_ends_an_existing_token_at_once_in_every_process(
    server: tuple[Services, GraphQLClient],
    store: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another running server process, which has the token in its cache, refuses it within
    a second of `disable` (run as its own process would: its own Services); a process that
    had not cached it refuses it at once. The password is kept for `enable`."""
    services, gql = server
    create = ["create", "--login", "bo", "--name", "Bo", "--password-stdin"]
    assert await user(monkeypatch, *create, password="pw-bo-1") == 0
    token = (await sign_in(gql, "bo", "pw-bo-1"))["token"]
    other = build_services(store)
    transport = httpx.ASGITransport(app=create_app(services=other))
    try:
        async with (
            other.running(),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            other_gql = GraphQLClient(client)
            assert (await other_gql(ME, token=token))["data"]["me"]["login"] == "bo"  # cached

            assert await user(monkeypatch, "disable", "bo") == 0
            assert (await gql(ME, token=token))["data"]["me"] is None  # refused right after
            deadline = asyncio.get_running_loop().time() + WITHIN_S
            while (await other_gql(ME, token=token))["data"]["me"] is not None:
                assert asyncio.get_running_loop().time() < deadline, f"served after {WITHIN_S} s"
                await asyncio.sleep(0.05)
    finally:
        await other.db.dispose()
    assert (await sign_in(gql, "bo", "pw-bo-1"))["__typename"] == "LoginFailed"
    listed = {u["login"]: u for u in await _listed(capsys)}
    assert listed["bo"]["disabled"] is True

    assert await user(monkeypatch, "enable", "bo") == 0
    assert (await sign_in(gql, "bo", "pw-bo-1"))["__typename"] == "Session"
    assert (await gql(ME, token=token))["data"]["me"] is None  # the old token stays ended


async def test_disable_in_the_serving_process_evicts_its_token_cache(
    server: tuple[Services, GraphQLClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cached token is forgotten at once by the process that disables the user."""
    services, gql = server
    create = ["create", "--login", "cy", "--name", "Cy", "--password-stdin"]
    assert await user(monkeypatch, *create, password="pw-cy-1") == 0
    token = (await sign_in(gql, "cy", "pw-cy-1"))["token"]
    assert (await gql(ME, token=token))["data"]["me"]["login"] == "cy"  # now cached
    assert await user_admin.disable_user(services, "cy") == 1
    assert (await gql(ME, token=token))["data"]["me"] is None


async def test_set_password_replaces_the_old_one_but_does_not_enable(
    server: tuple[Services, GraphQLClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, gql = server
    create = ["create", "--login", "di", "--name", "Di", "--password-stdin"]
    assert await user(monkeypatch, *create, password="old-pw") == 0
    assert await user(monkeypatch, "disable", "di") == 0
    assert await user(monkeypatch, "set-password", "di", "--password-stdin", password="new-pw") == 0
    assert (await sign_in(gql, "di", "new-pw"))["__typename"] == "LoginFailed"  # still disabled
    assert await user(monkeypatch, "enable", "di") == 0
    assert (await sign_in(gql, "di", "old-pw"))["__typename"] == "LoginFailed"
    assert (await sign_in(gql, "di", "new-pw"))["__typename"] == "Session"


async def test_grant_lets_the_user_see_the_sites_queue(
    server: tuple[Services, GraphQLClient],
    store: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    services, gql = server
    driver_token = seed_demo(services, store.data_dir)["user"]["token"]
    await ask(gql, driver_token, services.clock() + timedelta(hours=1), 180)

    create = ["create", "--login", "ed", "--name", "Ed", "--password-stdin"]
    assert await user(monkeypatch, *create, password="pw-ed-1") == 0
    page = {"first": 10, "status": "NEEDS_MANAGER"}
    token = (await sign_in(gql, "ed", "pw-ed-1"))["token"]
    before = await gql(LIST_REQUESTS, page, token=token)
    assert before["data"]["usageRequests"]["edges"] == []

    assert await user(monkeypatch, "grant", "ed", "--site", "site-1") == 0
    token = (await sign_in(gql, "ed", "pw-ed-1"))["token"]
    after = await gql(LIST_REQUESTS, page, token=token)
    assert len(after["data"]["usageRequests"]["edges"]) == 1
    [ed] = [u for u in await _listed(capsys) if u["login"] == "ed"]
    assert (ed["role"], ed["manages"]) == ("manager", ["site-1"])


async def _listed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["user", "list", "--json"]) == 0
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return rows
