"""Every query and mutation as anonymous, driver, other driver, manager and foreign manager."""

from datetime import timedelta
from typing import Any

import pytest

from app.domain.model import Policy, Role, Site, User
from app.services.accounts import store_token
from app.services.container import Services
from app.store.repositories import Sites, Users
from device.protocol import SigningKey
from tests.conftest import Clock, GraphQLClient, iso
from tests.schema.commissioning import registration
from tests.schema.queries import (
    APPROVE,
    CANCEL,
    GET_REQUEST,
    LIST_REQUESTS,
    REJECT,
    REQUEST_USAGE,
    REVOKE,
)
from tests.schema.test_request_usage import ask

OTHER_MANAGER_TOKEN = "pp_other_site_manager_token"
DENIED = "denied"
ALLOWED = "allowed"


async def add_foreign_site(services: Services, clock: Clock) -> None:
    """A second site with its own manager, who must not act on the demo site."""

    def work(conn: Any) -> None:
        site = Site("site-2", "Elsewhere", "UTC", Policy(), manager_ids=frozenset({"m2"}))
        Users(conn).add(User("m2", "m2", "Max", Role.MANAGER))
        Sites(conn).add(site)
        store_token(conn, "m2", OTHER_MANAGER_TOKEN, "test", clock.now)

    await services.db.write(work)


@pytest.fixture
async def world(gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services):
    await add_foreign_site(services, clock)
    pending = await ask(gql, tokens["user"], clock.now + timedelta(hours=1), 180)
    approved = await ask(gql, tokens["user"], clock.now + timedelta(hours=5), 60)
    roles = {
        "anonymous": None,
        "driver": tokens["user"],
        "other_driver": tokens["user2"],
        "manager": tokens["manager"],
        "foreign_manager": OTHER_MANAGER_TOKEN,
    }
    return {"pending": pending, "approved": approved, "roles": roles}


def outcome(body: dict[str, Any], field: str) -> str:
    """Allowed when the field resolved to something other than a denial."""
    if body.get("errors"):
        return DENIED
    value = body["data"][field]
    if value is None or (isinstance(value, dict) and value.get("__typename") == "NotAllowed"):
        return DENIED
    return ALLOWED


# role order: anonymous, driver, other_driver, manager, foreign_manager
MATRIX = {
    "usageRequest": (DENIED, ALLOWED, DENIED, ALLOWED, DENIED),
    "approveUsageRequest": (DENIED, DENIED, DENIED, ALLOWED, DENIED),
    "rejectUsageRequest": (DENIED, DENIED, DENIED, ALLOWED, DENIED),
    "cancelUsageRequest": (DENIED, ALLOWED, DENIED, DENIED, DENIED),
    "revokePermit": (DENIED, DENIED, DENIED, ALLOWED, DENIED),
    "registerDevice": (DENIED, DENIED, DENIED, ALLOWED, DENIED),
    "requestUsage": (DENIED, ALLOWED, ALLOWED, ALLOWED, ALLOWED),
    "devices": (DENIED, ALLOWED, ALLOWED, ALLOWED, ALLOWED),
    "revocationList": (DENIED, ALLOWED, ALLOWED, ALLOWED, DENIED),  # a foreign site's charger
    "submitReceipts": (DENIED, ALLOWED, ALLOWED, ALLOWED, ALLOWED),
}
ROLES = ("anonymous", "driver", "other_driver", "manager", "foreign_manager")


def operation(name: str, world: dict[str, Any], clock: Clock) -> tuple[str, dict[str, Any]]:
    pending, approved = world["pending"], world["approved"]
    if name == "usageRequest":
        return GET_REQUEST, {"id": pending["id"]}
    if name == "approveUsageRequest":
        return APPROVE, {"id": pending["id"]}
    if name == "rejectUsageRequest":
        return REJECT, {"id": pending["id"], "reason": "maintenance"}
    if name == "cancelUsageRequest":
        return CANCEL, {"id": pending["id"]}
    if name == "revokePermit":
        return REVOKE, {"id": approved["permit"]["id"], "reason": "misuse"}
    if name == "registerDevice":
        return (
            "mutation ($key: String!, $proof: String!) { registerDevice(input: "
            '{id: "ch-9", name: "Bay 9", siteId: "site-1", publicKey: $key, proof: $proof}) '
            "{ __typename ... on NotAllowed { message } } }",
            registration(SigningKey.generate(), "ch-9"),
        )
    if name == "requestUsage":
        start = clock.now + timedelta(days=2)
        return REQUEST_USAGE, {"device": "ch-2", "start": iso(start), "minutes": 30}
    if name == "devices":
        return "{ devices { id } }", {}
    if name == "revocationList":
        return '{ revocationList(deviceId: "ch-1") { sequence token } }', {}
    if name == "submitReceipts":
        return "mutation { submitReceipts(tokens: []) { status } }", {}
    raise AssertionError(name)


@pytest.mark.parametrize("name", sorted(MATRIX))
@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
async def test_who_may_do_what(
    gql: GraphQLClient, world: dict[str, Any], clock: Clock, name: str, role_index: int
) -> None:
    query, variables = operation(name, world, clock)
    token = world["roles"][ROLES[role_index]]
    body = await gql(query, variables, token)
    assert outcome(body, name) == MATRIX[name][role_index], body


async def test_a_driver_lists_only_their_own_requests_and_a_manager_their_sites(
    gql: GraphQLClient, world: dict[str, Any], tokens: dict[str, str], clock: Clock
) -> None:
    await ask(gql, tokens["user2"], clock.now + timedelta(hours=8), 30)

    def owners(body: dict[str, Any]) -> set[str]:
        return {e["node"]["userId"] for e in body["data"]["usageRequests"]["edges"]}

    assert owners(await gql(LIST_REQUESTS, {"first": 50}, tokens["user"])) == {"u1"}
    assert owners(await gql(LIST_REQUESTS, {"first": 50}, tokens["user2"])) == {"u2"}
    assert owners(await gql(LIST_REQUESTS, {"first": 50}, tokens["manager"])) == {"u1", "u2"}
    assert owners(await gql(LIST_REQUESTS, {"first": 50}, OTHER_MANAGER_TOKEN)) == set()
    me = await gql("{ me { id role } }", token=tokens["manager"])
    assert me["data"]["me"] == {"id": "m1", "role": "manager"}
    assert (await gql("{ me { id } }"))["data"]["me"] is None


async def test_a_driver_who_tries_a_managers_mutation_gets_a_typed_refusal(
    gql: GraphQLClient, world: dict[str, Any], tokens: dict[str, str], clock: Clock
) -> None:
    for name in ("approveUsageRequest", "rejectUsageRequest", "revokePermit", "registerDevice"):
        query, variables = operation(name, world, clock)
        body = await gql(query, variables, tokens["user"])
        assert "errors" not in body, body
        assert body["data"][name]["__typename"] == "NotAllowed", body
        assert body["data"][name]["message"]


LOGIN = """
mutation ($login: String!, $password: String!) {
  login(login: $login, password: $password) {
    __typename ... on Session { token me { id role } } ... on LoginFailed { message }
  }
}
"""


async def test_a_driver_signs_in_with_a_password_and_uses_the_token_it_gets(
    gql: GraphQLClient, demo: dict[str, Any]
) -> None:
    account = demo["user"]
    wrong = await gql(LOGIN, {"login": account["login"], "password": "not it"})
    assert wrong["data"]["login"]["__typename"] == "LoginFailed"
    unknown = await gql(LOGIN, {"login": "nobody", "password": account["password"]})
    assert unknown["data"]["login"]["__typename"] == "LoginFailed"

    body = await gql(LOGIN, {"login": account["login"], "password": account["password"]})
    session = body["data"]["login"]
    assert session["me"] == {"id": "u1", "role": "user"}
    assert session["token"] != account["token"]
    me = await gql("{ me { id } }", token=session["token"])
    assert me["data"]["me"] == {"id": "u1"}
