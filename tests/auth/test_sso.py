"""Managers' single sign-on against a real OpenID Connect provider the test runs
(tests/auth/oidc_provider.py) and a real `powerpermit serve` configured for it.

The browser is an httpx client with a cookie jar that follows redirects: /sso/login →
the provider's /authorize → /sso/callback → /manage, as a browser would go.
"""

import contextlib
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from app.auth.sso import SsoConfig, SsoConfigError
from app.cli import main
from app.settings import Settings
from tests.auth.oidc_provider import Provider, Running
from tests.e2e.browser import CHROMIUM, FLAGS, Guard, require_chromium
from tests.http.live import ServerProcess, free_port, prepare, server_env

MANAGER = "mia@example.org"  # manages the demo site
DRIVER = "udo@example.org"
IDLE = "ida@example.org"  # a manager of no site
GONE = "gus@example.org"  # a manager of the demo site, disabled
MAX = "max@example.org"  # a manager of the demo site, disabled while signed in
STRANGER = "eve@example.org"  # no account at all
BUTTON = "Sign in with single sign-on"
UNVERIFIED = "The sign-in could not be verified."
PASSWORD = ("--password-stdin",)


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    provider = Provider(client_id="powerpermit", client_secret="s3cret-" + "x" * 24)
    running = Running(provider)
    running.start()
    try:
        yield provider
    finally:
        running.stop()


@dataclass(frozen=True)
class Server:
    url: str
    service_login: str  # an OAuth2 client's service account: a manager without a password
    env: dict[str, str]  # for the command line on its store


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, provider: Provider) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("powerpermit-sso")
    port = free_port()
    env = server_env(data_dir) | {
        "POWERPERMIT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "POWERPERMIT_OIDC_ISSUER": provider.issuer,
        "POWERPERMIT_OIDC_CLIENT_ID": provider.client_id,
        "POWERPERMIT_OIDC_CLIENT_SECRET": provider.client_secret,
    }
    site = prepare(data_dir, env)["site"]["id"]
    for login, role in (
        (MANAGER, "manager"),
        (MAX, "manager"),
        (DRIVER, "driver"),
        (IDLE, "manager"),
    ):
        cli(env, "user", "create", "--login", login, "--name", login, "--role", role, *PASSWORD)
    cli(env, "user", "create", "--login", GONE, "--name", "Gus", "--role", "manager", *PASSWORD)
    cli(env, "user", "grant", MANAGER, "--site", site)
    cli(env, "user", "grant", GONE, "--site", site)
    cli(env, "user", "grant", MAX, "--site", site)
    cli(env, "user", "disable", GONE)
    made = cli(
        env,
        "client",
        "create",
        "--name",
        "Fleet",
        "--site",
        site,
        "--scopes",
        "requests:read",
        "--json",
    )
    client_id = json.loads(made.strip().splitlines()[-1])["client_id"]
    process = ServerProcess(data_dir, port, data_dir / "server.log", env=env)
    process.start()
    try:
        yield Server(process.url(""), f"client:{client_id}", env)
    finally:
        process.stop()


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Configured as by default: no OIDC variables."""
    data_dir = tmp_path_factory.mktemp("powerpermit-no-sso")
    env = {k: v for k, v in server_env(data_dir).items() if not k.startswith("POWERPERMIT_OIDC")}
    prepare(data_dir, env)
    process = ServerProcess(data_dir, free_port(), data_dir / "server.log", env=env)
    process.start()
    try:
        yield process.url("")
    finally:
        process.stop()


def cli(env: dict[str, str], *args: str) -> str:
    """`powerpermit ARGS` on the server's store, in this process (a child process per call
    cost ~3 s of start-up each); a password, when asked, from stdin."""
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        for name in ("POWERPERMIT_DATA_DIR", "DATABASE_URL"):
            patch.setenv(name, env[name])
        patch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
        assert main(list(args)) == 0
    return printed.getvalue()


@pytest.fixture
def browser(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, follow_redirects=True, timeout=15) as client:
        yield client


def person(email: str, verified: bool = True) -> dict[str, Any]:
    return {"sub": "idp-" + email, "email": email, "email_verified": verified}


def on_console(browser: httpx.Client) -> bool:
    """Signed in as a manager: /manage serves the console instead of sending to sign-in."""
    page = browser.get("/manage")
    return page.status_code == 200 and urlsplit(str(page.url)).path == "/manage"


def test_a_managers_identity_signs_in_and_lands_on_the_console(
    browser: httpx.Client, provider: Provider
) -> None:
    provider.identity = person(MANAGER)
    landed = browser.get("/sso/login")
    assert landed.status_code == 200
    assert urlsplit(str(landed.url)).path == "/manage"
    assert "Waiting for a manager" in landed.text  # the console's approval queue
    assert [r.status_code for r in landed.history] == [302, 302, 303]  # via the provider
    assert on_console(browser)  # and the session stays


def test_disabling_the_account_ends_its_sso_session(
    server: Server, browser: httpx.Client, provider: Provider
) -> None:
    provider.identity = person(MAX)
    assert browser.get("/sso/login").status_code == 200 and on_console(browser)
    cli(server.env, "user", "disable", MAX)
    # The server forgets the session's cached token within a second (withdrawals' poller).
    deadline = time.monotonic() + 5
    while on_console(browser) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not on_console(browser)
    assert browser.get("/sso/login").status_code == 403  # and it cannot come back


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        (person(DRIVER), f"Single sign-on is for managers; the account {DRIVER} is not one."),
        (person(STRANGER), f"No PowerPermit account has the login {STRANGER}."),
        (person(GONE), f"The account {GONE} is disabled."),
        (person(IDLE), f"The account {IDLE} manages no site yet."),
        (person(MANAGER, verified=False), "did not confirm an email address"),
        ({"sub": "idp-nomail"}, "did not confirm an email address"),
    ],
    ids=["driver", "unknown", "disabled", "no-site", "unverified-email", "no-email"],
)
def test_anyone_but_an_active_manager_is_refused_without_a_session(
    browser: httpx.Client, provider: Provider, claims: dict[str, Any], words: str
) -> None:
    provider.identity = claims
    refused = browser.get("/sso/login")
    assert refused.status_code == 403
    assert "Single sign-on refused" in refused.text and words in refused.text
    assert not on_console(browser)


def test_an_oauth_clients_service_account_is_refused(
    server: Server, browser: httpx.Client, provider: Provider
) -> None:
    """A manager of its site, but no person: nobody signs in as it, not even through SSO."""
    provider.identity = person(server.service_login)
    refused = browser.get("/sso/login")
    assert refused.status_code == 403 and "is disabled" in refused.text
    assert not on_console(browser)


@pytest.mark.parametrize(
    "spoil", ["signature", "unsigned", "nonce", "audience", "issuer", "expired"]
)
def test_an_id_token_that_does_not_verify_is_refused(
    browser: httpx.Client, provider: Provider, spoil: str
) -> None:
    provider.identity, provider.spoil = person(MANAGER), spoil
    refused = browser.get("/sso/login")
    assert provider.spoil is None  # the spoiled token was issued and presented
    assert refused.status_code == 403 and UNVERIFIED in refused.text
    assert not on_console(browser)


def callback_of_a_flow(client: httpx.Client) -> str:
    """Start a flow in `client` and stop at the provider's redirect back: the callback URL
    with its code and state, not yet visited."""
    to_provider = client.get("/sso/login", follow_redirects=False)
    assert to_provider.status_code == 302
    back = httpx.get(to_provider.headers["location"], follow_redirects=False)
    assert back.status_code == 302
    return str(back.headers["location"])


def test_a_callback_from_another_browsers_flow_is_refused(
    server: Server, browser: httpx.Client, provider: Provider
) -> None:
    """Login CSRF: an attacker starts a flow as themselves and gets the victim's browser to
    open the callback; the victim's session holds no such state, so nothing happens."""
    provider.identity = person(MANAGER)
    with httpx.Client(base_url=server.url, timeout=15) as attacker:
        callback = callback_of_a_flow(attacker)
    redeemed = provider.redeemed
    refused = browser.get(callback)
    assert refused.status_code == 403 and UNVERIFIED in refused.text
    assert provider.redeemed == redeemed  # the code was never even exchanged
    assert not on_console(browser)


def test_a_changed_or_replayed_state_is_refused(browser: httpx.Client, provider: Provider) -> None:
    provider.identity = person(MANAGER)
    callback = callback_of_a_flow(browser)
    parts = urlsplit(callback)
    query = parse_qs(parts.query)
    changed = f"{parts.path}?code={query['code'][0]}&state={query['state'][0]}x"
    assert browser.get(changed).status_code == 403
    assert not on_console(browser)
    # The flow's own callback works once; the same callback again is refused.
    assert browser.get(callback).status_code == 200 and on_console(browser)
    replayed = browser.get(callback)
    assert replayed.status_code == 403 and UNVERIFIED in replayed.text


def test_the_sign_in_page_offers_single_sign_on_when_configured(browser: httpx.Client) -> None:
    assert BUTTON in browser.get("/sign-in").text


def test_a_refusal_speaks_the_browsers_language(browser: httpx.Client, provider: Provider) -> None:
    provider.identity = person(STRANGER)
    refused = browser.get("/sso/login", headers={"Accept-Language": "ja,en;q=0.5"})
    assert refused.status_code == 403
    assert f"ログイン名 {STRANGER} のPowerPermitアカウントはありません。" in refused.text


def test_single_sign_on_is_off_by_default(plain_server: str) -> None:
    with httpx.Client(base_url=plain_server, timeout=15) as client:
        assert client.get("/sso/login").status_code == 404
        assert client.get("/sso/callback?code=x&state=y").status_code == 404
        page = client.get("/sign-in")
        assert page.status_code == 200 and "Sign in" in page.text and BUTTON not in page.text


def test_a_manager_clicks_single_sign_on_in_a_real_browser(
    server: Server, provider: Provider
) -> None:
    """The button itself, in Chromium: sign-in page → provider → the console, signed in."""
    require_chromium()
    provider.identity = person(MANAGER)
    guard = Guard({server.url, provider.issuer})
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = guard.watch(chromium.new_context()).new_page()
            page.goto(f"{server.url}/sign-in?next=/manage")
            page.get_by_text(BUTTON).click()
            page.wait_for_url(f"{server.url}/manage", timeout=15_000)
            expect(page.get_by_text("Waiting for a manager: 0")).to_be_visible(timeout=15_000)
        finally:
            chromium.close()
    assert guard.blocked == []


def settings(**oidc: str) -> Settings:
    return Settings(Path("var"), "sqlite://", public_url="https://permits.example.org", **oidc)


def test_the_redirect_uri_is_the_public_url_and_the_callback() -> None:
    config = SsoConfig.from_settings(
        settings(
            oidc_issuer="https://idp.example.org/realms/ops/",
            oidc_client_id="pp",
            oidc_client_secret="s",
        )
    )
    assert config is not None
    assert config.redirect_uri == "https://permits.example.org/sso/callback"
    assert config.issuer == "https://idp.example.org/realms/ops"
    assert SsoConfig.from_settings(settings()) is None  # off without an issuer


@pytest.mark.parametrize(
    "oidc",
    [
        {"oidc_issuer": "https://idp.example.org"},  # no client id or secret
        {"oidc_issuer": "https://idp.example.org", "oidc_client_id": "pp"},  # no secret
        # Keys fetched over plain HTTP could be anyone's: only a loopback provider may use it.
        {
            "oidc_issuer": "http://idp.example.org",
            "oidc_client_id": "pp",
            "oidc_client_secret": "s",
        },
    ],
    ids=["no-client", "no-secret", "plain-http"],
)
def test_a_configuration_that_cannot_work_is_refused(oidc: dict[str, str]) -> None:
    with pytest.raises(SsoConfigError):
        SsoConfig.from_settings(settings(**oidc))
