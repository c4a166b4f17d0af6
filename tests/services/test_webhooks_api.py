"""Who may manage a site's webhooks through the API: its managers only. A driver is told
NotAllowed, a foreign site's manager finds nothing of them, bad input is InvalidInput,
and none of these changes anything."""

from typing import Any

import pytest

from app.services.container import Services
from tests.conftest import GraphQLClient
from tests.schema.foreign_site import FOREIGN_MANAGER_TOKEN, add_foreign_site

EVENTS = ["request.submitted", "request.decided"]
ANSWER = "__typename ... on NotFound { message } ... on NotAllowed { message } "
ANSWER += "... on InvalidInput { message }"
CREATE = f"""
mutation ($site: ID!, $url: String!, $events: [String!]!) {{
  createWebhook(siteId: $site, url: $url, events: $events) {{
    {ANSWER} ... on WebhookCreated {{ secret webhook {{ id siteId url events }} }}
  }}
}}
"""
DELETE = """
mutation ($id: ID!) {
  deleteWebhook(id: $id) {
    __typename ... on NotFound { message } ... on NotAllowed { message }
    ... on WebhookDeleted { id }
  }
}
"""
LIST = """
query ($site: ID!) {
  webhooks(siteId: $site) {
    __typename ... on NotFound { message } ... on NotAllowed { message }
    ... on SiteWebhooks { webhooks { id url events deliveries { id } } }
  }
}
"""


@pytest.fixture
async def hook(gql: GraphQLClient, tokens: dict[str, str], services: Services) -> dict[str, Any]:
    """A webhook of site-1 by its manager; site-9 and its manager exist too."""
    await services.db.write(lambda conn: add_foreign_site(conn, services.clock()))
    services.webhook_allow_private = True
    variables = {"site": "site-1", "url": "http://127.0.0.1:9/hook", "events": EVENTS}
    created = (await gql(CREATE, variables, tokens["manager"]))["data"]["createWebhook"]
    assert created["__typename"] == "WebhookCreated", created
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    return created["webhook"]


async def listed(gql: GraphQLClient, token: str, site: str = "site-1") -> dict[str, Any]:
    result: dict[str, Any] = (await gql(LIST, {"site": site}, token))["data"]["webhooks"]
    return result


async def test_the_manager_sees_the_webhook_but_never_its_secret_again(
    gql: GraphQLClient, tokens: dict[str, str], hook: dict[str, Any]
) -> None:
    seen = await listed(gql, tokens["manager"])
    expected = {"id": hook["id"], "url": "http://127.0.0.1:9/hook", "events": EVENTS}
    assert seen["webhooks"] == [{**expected, "deliveries": []}]
    secret_field = await gql(
        '{ webhooks(siteId: "site-1") { ... on SiteWebhooks { webhooks { secret } } } }',
        token=tokens["manager"],
    )
    assert "errors" in secret_field  # no such field: the secret was shown once


@pytest.mark.parametrize(
    ("who", "expected"),
    [("user", "NotAllowed"), ("foreign", "NotFound")],
)
async def test_drivers_and_foreign_managers_are_refused_and_nothing_changes(
    gql: GraphQLClient, tokens: dict[str, str], hook: dict[str, Any], who: str, expected: str
) -> None:
    token = FOREIGN_MANAGER_TOKEN if who == "foreign" else tokens[who]
    variables = {"site": "site-1", "url": "http://127.0.0.1:9/other", "events": EVENTS}
    created = (await gql(CREATE, variables, token))["data"]["createWebhook"]
    deleted = (await gql(DELETE, {"id": hook["id"]}, token))["data"]["deleteWebhook"]
    seen = await listed(gql, token)
    assert [created["__typename"], deleted["__typename"], seen["__typename"]] == [expected] * 3
    assert hook["id"] not in str(seen)  # a foreign manager learns nothing of it
    [still] = (await listed(gql, tokens["manager"]))["webhooks"]
    assert still["id"] == hook["id"]


async def test_a_foreign_manager_s_own_site_shows_none_of_site_1_s(
    gql: GraphQLClient, hook: dict[str, Any]
) -> None:
    assert (await listed(gql, FOREIGN_MANAGER_TOKEN, "site-9"))["webhooks"] == []


@pytest.mark.parametrize(
    ("url", "events"),
    [
        ("ftp://127.0.0.1/hook", EVENTS),
        ("not a url", EVENTS),
        ("http://127.0.0.1:9/hook", ["request.updated"]),
        ("http://127.0.0.1:9/hook", []),
    ],
)
async def test_bad_input_is_invalid_input_and_nothing_is_added(
    gql: GraphQLClient, tokens: dict[str, str], hook: dict[str, Any], url: str, events: list[str]
) -> None:
    variables = {"site": "site-1", "url": url, "events": events}
    created = (await gql(CREATE, variables, tokens["manager"]))["data"]["createWebhook"]
    assert created["__typename"] == "InvalidInput", created
    assert len((await listed(gql, tokens["manager"]))["webhooks"]) == 1


async def test_private_addresses_are_refused_unless_the_setting_allows_them(
    gql: GraphQLClient, tokens: dict[str, str], services: Services, hook: dict[str, Any]
) -> None:
    services.webhook_allow_private = False
    variables = {"site": "site-1", "url": "https://127.0.0.1/hook", "events": EVENTS}
    created = (await gql(CREATE, variables, tokens["manager"]))["data"]["createWebhook"]
    assert created["__typename"] == "InvalidInput"
    assert "private network" in created["message"]


async def test_a_deleted_webhook_is_gone_and_cannot_be_deleted_twice(
    gql: GraphQLClient, tokens: dict[str, str], hook: dict[str, Any]
) -> None:
    deleted = (await gql(DELETE, {"id": hook["id"]}, tokens["manager"]))["data"]["deleteWebhook"]
    assert deleted == {"__typename": "WebhookDeleted", "id": hook["id"]}
    assert (await listed(gql, tokens["manager"]))["webhooks"] == []
    again = (await gql(DELETE, {"id": hook["id"]}, tokens["manager"]))["data"]["deleteWebhook"]
    assert again["__typename"] == "NotFound"
