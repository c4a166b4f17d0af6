"""OAuth2 against a running `powerpermit serve`, with authlib's own httpx client: client
credentials, the metadata document, introspection and revocation, refused tokens over
HTTP and websockets, and a client's revocation from the command line."""

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client
from joserfc import jwt
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.auth.access_tokens import REGISTRY, new_key_set
from tests.auth.live_oauth import ME, OAuthStack, start_stack
from tests.http.live import GraphQLSocket, soon
from tests.schema.foreign_site import FOREIGN_DEVICE, FOREIGN_DRIVER_TOKEN, FOREIGN_MANAGER_TOKEN
from tests.schema.queries import APPROVE, GET_REQUEST, REQUEST_USAGE

WITHIN_S = 1.0  # a revoked token is refused within a second


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OAuthStack]:
    started = start_stack(tmp_path_factory.mktemp("oauth-live"))
    try:
        yield started
    finally:
        started.server.stop()


def machine_client(stack: OAuthStack, method: str = "client_secret_basic") -> OAuth2Client:
    return OAuth2Client(
        stack.machine["client_id"],
        stack.machine["client_secret"],
        token_endpoint_auth_method=method,
        timeout=10,
    )


def machine_token(stack: OAuthStack, scope: str | None = None) -> dict[str, Any]:
    with machine_client(stack) as client:
        token: dict[str, Any] = client.fetch_token(
            stack.url("/oauth/token"), grant_type="client_credentials", scope=scope
        )
    return token


def me(stack: OAuthStack, token: str) -> dict[str, Any]:
    response = stack.graphql(token)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["data"]["me"]
    return found


def refused(response: httpx.Response) -> bool:
    return (
        response.status_code == 401
        and response.headers.get("www-authenticate") == 'Bearer error="invalid_token"'
        and response.json()["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"
    )


def refused_within(stack: OAuthStack, token: str, seconds: float) -> float:
    """How long after now the server first refused the token (fails past `seconds`)."""
    began = time.monotonic()
    while time.monotonic() - began < seconds + 2:
        if refused(stack.graphql(token)):
            return time.monotonic() - began
        time.sleep(0.05)
    pytest.fail(f"still accepted {seconds + 2:.0f} s later")


def test_metadata_names_every_endpoint_and_what_it_supports(stack: OAuthStack) -> None:
    metadata = httpx.get(stack.url("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == stack.issuer
    for name, path in [
        ("authorization_endpoint", "/oauth/authorize"),
        ("token_endpoint", "/oauth/token"),
        ("revocation_endpoint", "/oauth/revoke"),
        ("introspection_endpoint", "/oauth/introspect"),
        ("jwks_uri", "/.well-known/oauth-jwks.json"),
    ]:
        assert metadata[name] == stack.url(path)
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert set(metadata["grant_types_supported"]) == {
        "authorization_code", "client_credentials", "refresh_token",
    }  # fmt: skip
    assert metadata["scopes_supported"] == [
        "requests:read", "requests:write", "requests:decide", "devices:manage", "receipts:write",
    ]  # fmt: skip
    assert metadata["response_types_supported"] == ["code"]
    keys = httpx.get(metadata["jwks_uri"]).json()["keys"]
    assert [(k["kty"], k["crv"], "d" in k) for k in keys] == [("OKP", "Ed25519", False)]


async def test_client_credentials_token_works_on_graphql_with_either_secret_method(
    stack: OAuthStack,
) -> None:
    for method in ("client_secret_basic", "client_secret_post"):
        async with AsyncOAuth2Client(
            stack.machine["client_id"],
            stack.machine["client_secret"],
            token_endpoint_auth_method=method,
            timeout=10,
        ) as client:
            token = await client.fetch_token(
                stack.url("/oauth/token"), grant_type="client_credentials"
            )
            assert token["token_type"].lower() == "bearer" and token["expires_in"] == 900
            assert token["scope"] == "requests:read requests:write requests:decide"
            assert "refresh_token" not in token  # a machine asks again instead
            answer = await client.post(stack.url("/graphql"), json={"query": ME})
        assert answer.status_code == 200, answer.text
        found = answer.json()["data"]["me"]
        assert found["login"] == f"client:{stack.machine['client_id']}"
        assert found["role"] == "manager"


def test_token_answers_are_never_cached_and_errors_follow_rfc_6749(stack: OAuthStack) -> None:
    url = stack.url("/oauth/token")
    good = httpx.post(
        url,
        data={"grant_type": "client_credentials"},
        auth=(stack.machine["client_id"], stack.machine["client_secret"]),
    )
    assert good.status_code == 200 and good.headers["cache-control"] == "no-store"
    wrong = httpx.post(
        url, data={"grant_type": "client_credentials"}, auth=(stack.machine["client_id"], "x")
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["cache-control"] == "no-store"
    public = httpx.post(
        url, data={"grant_type": "client_credentials", "client_id": stack.app["client_id"]}
    )
    assert public.status_code in (400, 401)
    assert public.json()["error"] in ("invalid_client", "unauthorized_client")
    unknown = httpx.post(
        url,
        data={"grant_type": "password", "username": "a", "password": "b"},
        auth=(stack.machine["client_id"], stack.machine["client_secret"]),
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "unsupported_grant_type"


def test_scopes_granted_are_those_asked_for_that_the_client_holds(stack: OAuthStack) -> None:
    assert machine_token(stack, "requests:read")["scope"] == "requests:read"
    narrowed = machine_token(stack, "requests:read devices:manage")
    assert narrowed["scope"] == "requests:read"  # devices:manage is not the client's
    with machine_client(stack) as client, pytest.raises(Exception, match="invalid_scope"):
        client.fetch_token(
            stack.url("/oauth/token"), grant_type="client_credentials", scope="devices:manage"
        )


def test_a_client_credentials_token_acts_for_its_site_only(stack: OAuthStack) -> None:
    token = machine_token(stack)["access_token"]
    start = soon(hours=3).isoformat()
    asked = httpx.post(
        stack.url("/graphql"),
        json={
            "query": REQUEST_USAGE,
            "variables": {"device": FOREIGN_DEVICE, "start": start, "minutes": 300},
        },
        headers={"Authorization": f"Bearer {FOREIGN_DRIVER_TOKEN}"},
    ).json()["data"]["requestUsage"]
    assert asked["__typename"] == "UsageRequest", asked
    foreign_id = {"id": asked["id"]}
    seen_by_its_manager = httpx.post(
        stack.url("/graphql"),
        json={"query": GET_REQUEST, "variables": foreign_id},
        headers={"Authorization": f"Bearer {FOREIGN_MANAGER_TOKEN}"},
    ).json()["data"]["usageRequest"]
    assert seen_by_its_manager["id"] == asked["id"]  # it exists; others just cannot see it
    assert stack.graphql(token, GET_REQUEST, foreign_id).json()["data"]["usageRequest"] is None
    decided = stack.graphql(token, APPROVE, foreign_id).json()["data"]["approveUsageRequest"]
    assert decided["__typename"] in ("NotFound", "NotAllowed")


def test_refused_tokens_are_told_so_over_http(stack: OAuthStack) -> None:
    good = machine_token(stack)
    assert me(stack, good["access_token"])["login"].startswith("client:")
    now = int(datetime.now(UTC).timestamp())
    sub = me(stack, good["access_token"])["id"]
    claims = {
        "iss": stack.issuer,
        "aud": stack.issuer + "/graphql",
        "sub": sub,
        "client_id": stack.machine["client_id"],
        "scope": "requests:read",
        "jti": "forged-1",
        "iat": now,
        "exp": now + 600,
    }
    assert me(stack, stack.forge(claims))["id"] == sub  # the forger's baseline is sound
    head, payload, signature = good["access_token"].split(".")
    cases = {
        "expired": stack.forge({**claims, "iat": now - 1000, "exp": now - 100}),
        "wrong audience": stack.forge({**claims, "aud": stack.issuer + "/elsewhere"}),
        "wrong issuer": stack.forge({**claims, "iss": "https://evil.example"}),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{payload}.",
        "tampered": f"{head}.{_b64({**claims, 'scope': 'devices:manage'})}.{signature}",
        "another key": _signed_by_stranger(claims, stack),
        "no such user": stack.forge({**claims, "sub": "u-nobody"}),
    }
    for name, token in cases.items():
        answer = stack.graphql(token)
        assert refused(answer), f"{name}: {answer.status_code} {answer.text}"
    anonymous = httpx.post(stack.url("/graphql"), json={"query": ME})
    assert anonymous.status_code == 200 and anonymous.json()["data"]["me"] is None


async def test_a_websocket_with_a_refused_token_is_not_let_in(stack: OAuthStack) -> None:
    good = machine_token(stack)["access_token"]
    head, payload, _ = good.split(".")
    ws_url = stack.base_url.replace("http", "ws") + "/graphql"
    for token, accepted in ((good, True), (f"{_b64({'alg': 'none'})}.{payload}.", False)):
        async with connect(ws_url, subprotocols=[GraphQLSocket.PROTOCOL]) as connection:
            socket = GraphQLSocket(connection)
            if accepted:
                assert (await socket.init({"Authorization": f"Bearer {token}"}))["type"] == (
                    "connection_ack"
                )
                continue
            with pytest.raises(ConnectionClosed) as closed:
                await socket.init({"Authorization": f"Bearer {token}"})
                await socket.receive()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


def test_introspection_per_rfc_7662(stack: OAuthStack) -> None:
    url, auth = stack.url("/oauth/introspect"), _machine_auth(stack)
    token = machine_token(stack, "requests:read")["access_token"]
    active = httpx.post(url, data={"token": token}, auth=auth)
    assert active.status_code == 200 and active.headers["cache-control"] == "no-store"
    body = active.json()
    assert body["active"] is True and body["scope"] == "requests:read"
    assert body["client_id"] == stack.machine["client_id"] and body["iss"] == stack.issuer
    assert body["exp"] - body["iat"] == 900
    for junk in ("nonsense", "a.b.c", "pprt_unknown"):
        assert httpx.post(url, data={"token": junk}, auth=auth).json() == {"active": False}
    anonymous = httpx.post(url, data={"token": token})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    public = httpx.post(url, data={"token": token, "client_id": stack.app["client_id"]})
    assert public.status_code == 401  # a public client proves nothing: it may not ask


def test_a_revoked_access_token_is_refused_within_a_second(stack: OAuthStack) -> None:
    token = machine_token(stack)["access_token"]
    assert me(stack, token)
    revoked = httpx.post(
        stack.url("/oauth/revoke"), data={"token": token}, auth=_machine_auth(stack)
    )
    assert revoked.status_code == 200
    assert refused_within(stack, token, WITHIN_S) <= WITHIN_S
    introspected = httpx.post(
        stack.url("/oauth/introspect"), data={"token": token}, auth=_machine_auth(stack)
    )
    assert introspected.json() == {"active": False}
    # RFC 7009 §2.2: an unknown or already revoked token is answered 200 as well.
    again = httpx.post(stack.url("/oauth/revoke"), data={"token": token}, auth=_machine_auth(stack))
    assert again.status_code == 200
    other = machine_token(stack)["access_token"]
    assert me(stack, other)  # only that token ended


def test_revoking_the_client_from_the_command_line_ends_its_tokens(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """`powerpermit client revoke` runs in a process of its own: the server hears of it
    through the withdrawals poller, within a second."""
    stack = start_stack(tmp_path_factory.mktemp("oauth-revoke-client"))
    try:
        token = machine_token(stack)["access_token"]
        assert me(stack, token)
        done = stack.cli("client", "revoke", stack.machine["client_id"])
        assert done.returncode == 0, done.stderr
        assert refused_within(stack, token, WITHIN_S) <= WITHIN_S
        with machine_client(stack) as client, pytest.raises(Exception, match="invalid_client"):
            client.fetch_token(stack.url("/oauth/token"), grant_type="client_credentials")
    finally:
        stack.server.stop()


def _machine_auth(stack: OAuthStack) -> tuple[str, str]:
    return stack.machine["client_id"], stack.machine["client_secret"]


def _b64(value: dict[str, Any]) -> str:
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed_by_stranger(claims: dict[str, Any], stack: OAuthStack) -> str:
    stranger = new_key_set().keys[0]
    head = {"alg": "EdDSA", "kid": stack.keys().keys[0].kid, "typ": "at+jwt"}
    return jwt.encode(head, claims, stranger, registry=REGISTRY)
