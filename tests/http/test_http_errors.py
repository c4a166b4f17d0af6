"""Bad requests get GraphQL-over-HTTP answers without stack traces; the JWKS verifies permits."""

from typing import Any

import httpx
import pytest

from device.protocol import SigningKey, TrustList, read_permit
from device.protocol.errors import UnknownKey
from device.protocol.keys import b64url_decode
from device.protocol.text import from_text
from tests.http.live import LiveServer, request_usage, slot_start, soon

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
LEAKS = ("Traceback", 'File "', "site-packages", "/app/", "sqlalchemy", "Error at 0x")

# Well-formed GraphQL-over-HTTP requests whose document fails to parse or validate.
BAD_DOCUMENTS = {
    "syntax": {"query": "{ me { id "},
    "unknown_field": {"query": "{ nope }"},
    "wrong_argument_type": {"query": "{ usageRequest(id: {a: 1}) { id } }"},
}


def assert_no_leak(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, text


async def post(server: LiveServer, body: Any, *, accept: str, who: str | None = None) -> Any:
    headers = {"Accept": accept, "Content-Type": JSON, **(server.headers(who) if who else {})}
    async with httpx.AsyncClient(timeout=30) as client:
        if isinstance(body, str):
            return await client.post(server.graphql_url, content=body, headers=headers)
        return await client.post(server.graphql_url, json=body, headers=headers)


@pytest.mark.parametrize("name", sorted(BAD_DOCUMENTS))
async def test_bad_document_with_accept_json_is_200_with_errors(
    live_server: LiveServer, name: str
) -> None:
    """GraphQL-over-HTTP §7.1.2 (application/json): SHOULD answer 200, errors in the body."""
    response = await post(live_server, BAD_DOCUMENTS[name], accept=JSON)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(JSON)
    body = response.json()
    assert body["errors"] and all(error["message"] for error in body["errors"])
    assert body.get("data") is None
    assert_no_leak(response.text)


@pytest.mark.parametrize("name", ["syntax", "unknown_field"])
async def test_bad_document_with_graphql_response_json_is_4xx(
    live_server: LiveServer, name: str
) -> None:
    """GraphQL-over-HTTP §7.1.3 (application/graphql-response+json): a request error is 4xx."""
    response = await post(live_server, BAD_DOCUMENTS[name], accept=GRAPHQL_RESPONSE)
    assert_no_leak(response.text)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert body["errors"] and "data" not in body


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        {"variables": {}},
        {"query": 42},
        # strawberry answers 400 before executing, though the request is well-formed JSON.
        {"query": "query A { me { id } }", "operationName": "B"},
    ],
    ids=["bad_json", "no_query", "query_not_string", "unknown_operation"],
)
async def test_malformed_http_request_is_400(
    live_server: LiveServer, accept: str, body: Any
) -> None:
    """Not a well-formed GraphQL-over-HTTP request: 400 whatever the client accepts."""
    response = await post(live_server, body, accept=accept)
    assert response.status_code == 400, response.text
    assert_no_leak(response.text)


async def test_naive_datetime_is_a_validation_error_and_writes_nothing(
    live_server: LiveServer,
) -> None:
    naive = slot_start(days=6).replace(tzinfo=None).isoformat()
    variables = {"input": {"deviceId": "ch-1", "startsAt": naive, "durationMinutes": 60}}
    query = "mutation($input: RequestUsageInput!) { requestUsage(input: $input) { __typename } }"
    response = await post(
        live_server, {"query": query, "variables": variables}, accept=JSON, who="user"
    )
    assert response.status_code == 200
    body = response.json()
    assert body.get("data") is None
    assert any("UTC offset" in error["message"] for error in body["errors"]), body
    assert_no_leak(response.text)
    mine = await post(
        live_server,
        {"query": "{ usageRequests { edges { node { id } } } }"},
        accept=JSON,
        who="user",
    )
    assert mine.json()["data"]["usageRequests"]["edges"] == []


async def test_permit_keys_verify_an_issued_permit(live_server: LiveServer) -> None:
    device_id = live_server.devices[0]["id"]
    starts_at = soon(hours=3)  # inside the permit lead: approved with its permit
    async with httpx.AsyncClient(timeout=30) as client:
        keys = await client.get(f"{live_server.base_url}/.well-known/permit-keys")
        asked = await request_usage(client, live_server, "user", device_id, starts_at, 60)
    assert keys.status_code == 200
    jwks = keys.json()
    assert jwks["keys"] and all(
        key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["kid"] for key in jwks["keys"]
    )
    assert all("d" not in key for key in jwks["keys"])  # no private part
    assert asked["status"] == "APPROVED", asked
    permit = asked["permit"]
    token = b64url_decode(permit["token"])
    assert "=" not in permit["token"]

    claims = read_permit(token, TrustList.from_jwks(jwks))
    assert claims.device_id == device_id
    assert claims.permit_id.hex() == permit["id"]
    assert claims.request_id == asked["id"]
    assert claims.not_before == int(starts_at.timestamp())
    assert claims.expires_at - claims.not_before == 3600
    # The QR text carries the same bytes.
    assert from_text(permit["qrText"], max_bytes=1024) == token
    # A key the server does not publish verifies nothing.
    stranger = TrustList([SigningKey.generate().public_key])
    with pytest.raises(UnknownKey):
        read_permit(token, TrustList.from_jwks(stranger.to_jwks()))
