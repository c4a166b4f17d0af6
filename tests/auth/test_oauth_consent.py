"""The authorization code grant with PKCE S256 through the consent page, in Debian's
Chromium, against a live server; then the code exchanged and its refresh token rotated with
authlib's httpx client."""

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.auth.live_oauth import OAuthStack, start_stack
from tests.e2e.browser import CHROMIUM, FLAGS, require_chromium

DEADLINE_MS = 15_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OAuthStack]:
    started = start_stack(tmp_path_factory.mktemp("oauth-consent"))
    try:
        yield started
    finally:
        started.server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, stack: OAuthStack) -> Iterator[Page]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def app_client(stack: OAuthStack, scope: str = "requests:read") -> OAuth2Client:
    return OAuth2Client(
        stack.app["client_id"],
        token_endpoint_auth_method="none",
        redirect_uri=stack.callback,
        scope=scope,
        code_challenge_method="S256",
        timeout=10,
    )


def through_consent(
    page: Page, stack: OAuthStack, url: str, button: str = "Allow", shown: list[str] | None = None
) -> str:
    """Open the authorization URL, sign in as the driver if asked, press `button` on the
    consent page; returns the address the browser was sent back to. `shown` receives what
    the page said the app may do."""
    back: list[str] = []
    page.route(
        re.compile("^" + re.escape(stack.callback)),
        lambda route: (back.append(route.request.url), route.fulfill(status=200, body="ok")),
    )
    page.goto(url)
    if "/sign-in" in page.url or page.get_by_label("Login").count():
        account = stack.accounts["user"]
        page.get_by_label("Login").fill(account["login"])
        page.get_by_label("Password").fill(account["password"])
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Phone app asks to act for you")).to_be_visible(timeout=DEADLINE_MS)
    if shown is not None:
        shown.extend(page.get_by_text(re.compile("^• ")).all_inner_texts())
    page.get_by_role("button", name=button).click()
    for _ in range(150):
        if back:
            return back[0]
        page.wait_for_timeout(100)
    pytest.fail("the consent page never sent the browser back to the app")


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def me(stack: OAuthStack, token: str) -> dict[str, Any]:
    answer = stack.graphql(token)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()["data"]["me"]
    return found


def test_code_with_pkce_through_consent_then_refresh_rotation(
    page: Page, stack: OAuthStack
) -> None:
    verifier = generate_token(48)
    with app_client(stack, "requests:read devices:manage") as client:
        url, state = client.create_authorization_url(
            stack.url("/oauth/authorize"), code_verifier=verifier
        )
        shown: list[str] = []
        back = through_consent(page, stack, url, shown=shown)
        # devices:manage is not the app's: neither shown nor granted
        assert shown == ["• See your charging requests, chargers and permits"]
        assert query(back)["state"] == state and "code" in query(back)
        token = client.fetch_token(
            stack.url("/oauth/token"), authorization_response=back, code_verifier=verifier
        )
        assert token["scope"] == "requests:read"  # asked ∩ the client's
        person = me(stack, token["access_token"])
        assert person["login"] == stack.accounts["user"]["login"] and person["role"] == "user"

        with pytest.raises(OAuthError, match="invalid_grant"):  # a code works once
            client.fetch_token(
                stack.url("/oauth/token"), authorization_response=back, code_verifier=verifier
            )

        first = token["refresh_token"]
        with pytest.raises(OAuthError, match="invalid_scope"):  # never wider than granted
            client.refresh_token(stack.url("/oauth/token"), refresh_token=first)
        client.scope = None  # as granted: the refused try above spent nothing
        second = client.refresh_token(stack.url("/oauth/token"), refresh_token=first)
        assert second["refresh_token"] != first and second["scope"] == "requests:read"
        assert me(stack, second["access_token"])["id"] == person["id"]
        with pytest.raises(OAuthError, match="invalid_grant"):  # the used one: reuse
            client.refresh_token(stack.url("/oauth/token"), refresh_token=first)
        with pytest.raises(OAuthError, match="invalid_grant"):  # ... which ended the family
            client.refresh_token(stack.url("/oauth/token"), refresh_token=second["refresh_token"])


def test_a_wrong_verifier_gets_no_token_and_spends_the_code(page: Page, stack: OAuthStack) -> None:
    verifier = generate_token(48)
    with app_client(stack) as client:
        url, _ = client.create_authorization_url(
            stack.url("/oauth/authorize"), code_verifier=verifier
        )
        back = through_consent(page, stack, url)
        with pytest.raises(OAuthError, match="invalid_grant"):
            client.fetch_token(
                stack.url("/oauth/token"),
                authorization_response=back,
                code_verifier=generate_token(48),
            )
        with pytest.raises(OAuthError, match="invalid_grant"):
            client.fetch_token(
                stack.url("/oauth/token"), authorization_response=back, code_verifier=verifier
            )


def test_deny_sends_access_denied_back(page: Page, stack: OAuthStack) -> None:
    with app_client(stack) as client:
        url, state = client.create_authorization_url(
            stack.url("/oauth/authorize"), code_verifier=generate_token(48)
        )
        back = query(through_consent(page, stack, url, button="Deny"))
    assert back["error"] == "access_denied" and back["state"] == state and "code" not in back


def authorize(stack: OAuthStack, **changes: str | None) -> httpx.Response:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": stack.app["client_id"],
        "redirect_uri": stack.callback,
        "scope": "requests:read",
        "state": "s-1",
        "code_challenge": create_s256_code_challenge(generate_token(48)),
        "code_challenge_method": "S256",
        **changes,
    }
    sent = {key: value for key, value in params.items() if value is not None}
    return httpx.get(stack.url("/oauth/authorize?" + urlencode(sent)))


def test_authorize_sends_a_sound_request_to_the_consent_page(stack: OAuthStack) -> None:
    answer = authorize(stack)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/app/consent?ticket=")


@pytest.mark.parametrize(
    "changes",
    [
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},
        {"code_challenge": None, "code_challenge_method": None},
        {"scope": "everything"},
    ],
)
def test_authorize_refuses_without_pkce_s256_back_to_the_app(
    stack: OAuthStack, changes: dict[str, str | None]
) -> None:
    answer = authorize(stack, **changes)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(stack.callback)
    assert query(location)["error"] in ("invalid_request", "invalid_scope")
    assert query(location)["state"] == "s-1"


def test_authorize_never_redirects_to_an_unregistered_address(stack: OAuthStack) -> None:
    for changes in (
        {"redirect_uri": "https://evil.example/cb"},
        {"client_id": "c-unknown"},
    ):
        answer = authorize(stack, **changes)
        assert answer.status_code == 400 and "location" not in answer.headers
        assert answer.json()["error"] in ("invalid_request", "invalid_client")


def test_the_consent_page_may_not_be_framed(stack: OAuthStack) -> None:
    """A page that framed it could trick a click on Allow."""
    answer = httpx.get(stack.url("/app/consent?ticket=x"))
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["content-security-policy"] == "frame-ancestors 'none'"


def test_revoking_a_refresh_token_ends_the_grant(page: Page, stack: OAuthStack) -> None:
    verifier = generate_token(48)
    with app_client(stack) as client:
        url, _ = client.create_authorization_url(
            stack.url("/oauth/authorize"), code_verifier=verifier
        )
        back = through_consent(page, stack, url)
        token = client.fetch_token(
            stack.url("/oauth/token"), authorization_response=back, code_verifier=verifier
        )
        # RFC 7009: a public client revokes with its client_id alone.
        revoked = httpx.post(
            stack.url("/oauth/revoke"),
            data={
                "token": token["refresh_token"],
                "token_type_hint": "refresh_token",
                "client_id": stack.app["client_id"],
            },
        )
        assert revoked.status_code == 200
        with pytest.raises(OAuthError, match="invalid_grant"):
            client.refresh_token(stack.url("/oauth/token"), refresh_token=token["refresh_token"])
