"""registerDevice takes a key only with the device's proof of holding it, and a sane name."""

import time
from typing import Any

import pytest

from app.services.container import Services
from device.protocol import SigningKey
from tests.conftest import GraphQLClient
from tests.schema.commissioning import registration

REGISTER = """
mutation ($id: ID!, $name: String!, $key: String!, $proof: String!) {
  registerDevice(input: {id: $id, name: $name, siteId: "site-1", publicKey: $key, proof: $proof}) {
    __typename ... on Device { id name commissioned } ... on InvalidInput { message }
  }
}
"""


async def register(
    gql: GraphQLClient, token: str, variables: dict[str, str], device_id: str = "ch-1",
    name: str = "Bay 1",
) -> dict[str, Any]:  # fmt: skip
    body = await gql(REGISTER, {"id": device_id, "name": name, **variables}, token)
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"]["registerDevice"]
    return answer


async def test_a_device_with_its_proof_is_commissioned(
    gql: GraphQLClient, tokens: dict[str, str]
) -> None:
    answer = await register(gql, tokens["manager"], registration(SigningKey.generate()))
    assert answer == {"__typename": "Device", "id": "ch-1", "name": "Bay 1", "commissioned": True}


@pytest.mark.parametrize("case", ["no proof", "another device", "another key", "stale", "garbage"])
async def test_a_key_without_a_proof_for_this_device_is_refused(
    gql: GraphQLClient, tokens: dict[str, str], case: str
) -> None:
    key = SigningKey.generate()
    variables = registration(key)
    if case == "no proof":
        variables["proof"] = ""
    elif case == "another device":
        variables["proof"] = registration(key, "ch-2")["proof"]
    elif case == "another key":
        variables["proof"] = registration(SigningKey.generate())["proof"]
    elif case == "stale":
        variables = registration(key, issued_at=int(time.time()) - 2 * 24 * 3600)
    else:
        variables["proof"] = "!" * 10_000
    answer = await register(gql, tokens["manager"], variables)
    assert answer["__typename"] == "InvalidInput", answer
    assert "powerpermit-device prove" in answer["message"]


async def test_the_servers_own_permit_key_is_refused(
    gql: GraphQLClient, tokens: dict[str, str], services: Services
) -> None:
    answer = await register(gql, tokens["manager"], registration(services.signer.key))
    assert answer["__typename"] == "InvalidInput", answer
    assert "server's own permit key" in answer["message"]


@pytest.mark.parametrize("name", ["x" * 65, "   ", "Bay\n1"])
async def test_a_name_too_long_empty_or_unprintable_is_refused(
    gql: GraphQLClient, tokens: dict[str, str], name: str
) -> None:
    answer = await register(gql, tokens["manager"], registration(SigningKey.generate()), name=name)
    assert answer["__typename"] == "InvalidInput", answer
    assert "64" in answer["message"]
