"""A charger's local-link URL is part of its record: registered, validated, read back."""

from typing import Any

import pytest

from app.domain.model import Role, User
from app.services.container import Services
from app.services.demo import DEMO_LINK_URL
from app.services.devices import get_device
from device.protocol import SigningKey
from tests.conftest import GraphQLClient
from tests.schema.commissioning import registration

REGISTER = """
mutation ($key: String!, $proof: String!, $link: String) {
  registerDevice(input: {id: "ch-1", name: "Bay 1", siteId: "site-1", publicKey: $key,
                         proof: $proof, linkUrl: $link}) {
    __typename ... on Device { linkUrl } ... on InvalidInput { message }
  }
}
"""
DEVICE = '{ device(id: "ch-1") { linkUrl } }'


async def register(gql: GraphQLClient, token: str, link: str | None) -> dict[str, Any]:
    variables = {**registration(SigningKey.generate()), "link": link}
    body = await gql(REGISTER, variables, token)
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"]["registerDevice"]
    return answer


async def test_a_registered_link_url_is_kept_and_read_back(
    gql: GraphQLClient, tokens: dict[str, str], services: Services
) -> None:
    answer = await register(gql, tokens["manager"], " http://192.168.1.20:8410/ ")
    assert answer == {"__typename": "Device", "linkUrl": "http://192.168.1.20:8410"}
    # Registering again without one (a new key, say) keeps it; drivers read it too.
    assert (await register(gql, tokens["manager"], None))["linkUrl"] == "http://192.168.1.20:8410"
    body = await gql(DEVICE, token=tokens["user"])
    assert body == {"data": {"device": {"linkUrl": "http://192.168.1.20:8410"}}}
    # The service reads the same column on both engines.
    driver = User("u1", "user", "Udo Driver", Role.USER)
    device = await get_device(services, driver, "ch-1")
    assert device is not None and device.link_url == "http://192.168.1.20:8410"


async def test_the_demo_charger_has_the_link_make_run_starts_and_the_others_none(
    gql: GraphQLClient, tokens: dict[str, str]
) -> None:
    body = await gql("{ devices { id linkUrl } }", token=tokens["user"])
    assert body["data"]["devices"] == [
        {"id": "ch-1", "linkUrl": DEMO_LINK_URL},
        {"id": "ch-2", "linkUrl": None},
        {"id": "ch-3", "linkUrl": None},
    ]


@pytest.mark.parametrize(
    "link",
    [
        "ftp://192.168.1.20",
        "javascript:alert(1)",
        "http://",
        "http://user:secret@charger.local",
        "http://charger.local/?next=x",
        "http://charger.local/#x",
        "http://charger.local:99999",
        "http://charger.local:port",
        "http://lade säule.local",
        "http://charger.local/" + "x" * 300,
        "",
    ],
)
async def test_anything_but_an_http_url_with_a_host_is_refused(
    gql: GraphQLClient, tokens: dict[str, str], link: str
) -> None:
    answer = await register(gql, tokens["manager"], link)
    assert answer["__typename"] == "InvalidInput", answer
    assert "http://" in answer["message"]
    body = await gql(DEVICE, token=tokens["user"])
    assert body == {"data": {"device": {"linkUrl": DEMO_LINK_URL}}}  # nothing half-written
