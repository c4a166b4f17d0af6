"""updateCharger: a manager of the charger's site edits it; anyone else, or bad values,
change nothing; every edit is in the audit log."""

from typing import Any

import pytest

from app.services.container import Services
from app.store.audit import AuditLog
from tests.conftest import Clock, GraphQLClient
from tests.schema.foreign_site import FOREIGN_MANAGER_TOKEN, add_foreign_site

MANAGER_ID = "m1"  # the demo manager
UPDATE = """
mutation ($input: UpdateChargerInput!) {
  updateCharger(input: $input) {
    __typename
    ... on Device { id name linkUrl inService maxPowerW }
    ... on NotFound { message id }
    ... on NotAllowed { message }
    ... on InvalidInput { message }
  }
}
"""
DEVICE = "query ($id: ID!) { device(id: $id) { id name linkUrl inService maxPowerW } }"


@pytest.fixture
async def foreign_site(services: Services, clock: Clock, demo: dict[str, Any]) -> None:
    """A second site with its own manager and charger."""
    await services.db.write(lambda conn: add_foreign_site(conn, clock.now))


async def edit(gql: GraphQLClient, token: str, **fields: Any) -> dict[str, Any]:
    body = await gql(UPDATE, {"input": {"id": "ch-1", **fields}}, token)
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"]["updateCharger"]
    return answer


async def charger(gql: GraphQLClient, token: str, device_id: str = "ch-1") -> dict[str, Any]:
    body = await gql(DEVICE, {"id": device_id}, token)
    found: dict[str, Any] = body["data"]["device"]
    return found


async def audit_of(services: Services, device_id: str) -> list[dict[str, Any]]:
    return await services.db.read(lambda conn: AuditLog(conn).for_entity("device", device_id))


async def test_a_manager_edits_a_charger_and_the_edit_is_audited(
    gql: GraphQLClient, tokens: dict[str, str], services: Services
) -> None:
    before = await charger(gql, tokens["manager"])
    answer = await edit(
        gql,
        tokens["manager"],
        name="  Bay 7  ",
        linkUrl="http://192.168.1.40:8081/",
        inService=False,
        maxPowerW=22_000,
    )
    assert answer == {
        "__typename": "Device",
        "id": "ch-1",
        "name": "Bay 7",
        "linkUrl": "http://192.168.1.40:8081",
        "inService": False,
        "maxPowerW": 22_000,
    }
    assert await charger(gql, tokens["user"]) == {
        k: v for k, v in answer.items() if k != "__typename"
    }
    entries = [e for e in await audit_of(services, "ch-1") if e["action"] == "update_charger"]
    assert len(entries) == 1
    assert entries[0]["actor_id"] == MANAGER_ID
    assert entries[0]["before"] == {
        "name": before["name"],
        "link_url": before["linkUrl"],
        "in_service": True,
        "max_power_w": before["maxPowerW"],
    }
    assert entries[0]["after"] == {
        "name": "Bay 7",
        "link_url": "http://192.168.1.40:8081",
        "in_service": False,
        "max_power_w": 22_000,
    }


async def test_only_the_fields_given_change_and_an_empty_link_removes_it(
    gql: GraphQLClient, tokens: dict[str, str], services: Services
) -> None:
    await edit(gql, tokens["manager"], linkUrl="https://charger.local")
    answer = await edit(gql, tokens["manager"], maxPowerW=7_400)
    assert answer["linkUrl"] == "https://charger.local"
    assert answer["maxPowerW"] == 7_400
    answer = await edit(gql, tokens["manager"], linkUrl="")
    assert answer["linkUrl"] is None
    last = [e for e in await audit_of(services, "ch-1") if e["action"] == "update_charger"][-1]
    assert last["before"] == {"link_url": "https://charger.local"}
    assert last["after"] == {"link_url": None}


async def test_an_edit_that_changes_nothing_writes_no_audit_entry(
    gql: GraphQLClient, tokens: dict[str, str], services: Services
) -> None:
    current = await charger(gql, tokens["manager"])
    answer = await edit(gql, tokens["manager"], name=current["name"], inService=True)
    assert answer["name"] == current["name"]
    assert not [e for e in await audit_of(services, "ch-1") if e["action"] == "update_charger"]


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "   "},
        {"name": "x" * 65},
        {"name": "bad\nname"},
        {"linkUrl": "ftp://charger.local"},
        {"linkUrl": "javascript:alert(1)"},
        {"linkUrl": "http://user:pw@charger.local"},
        {"maxPowerW": 0},
        {"maxPowerW": -5},
        {"maxPowerW": 5_000_000},
        # one good field beside a bad one: the good one is not written either
        {"name": "Fine name", "maxPowerW": 10},
    ],
)
async def test_bad_values_are_refused_and_change_nothing(
    gql: GraphQLClient, tokens: dict[str, str], services: Services, fields: dict[str, Any]
) -> None:
    before = await charger(gql, tokens["manager"])
    answer = await edit(gql, tokens["manager"], **fields)
    assert answer["__typename"] == "InvalidInput"
    assert answer["message"]
    assert await charger(gql, tokens["manager"]) == before
    assert not [e for e in await audit_of(services, "ch-1") if e["action"] == "update_charger"]


@pytest.mark.usefixtures("foreign_site")
async def test_a_driver_or_another_sites_manager_cannot_edit(
    gql: GraphQLClient, tokens: dict[str, str], services: Services
) -> None:
    before = await charger(gql, tokens["manager"])
    assert (await edit(gql, tokens["user"], name="Mine"))["__typename"] == "NotAllowed"
    # a manager of another site does not even learn that the charger exists
    foreign = await edit(gql, FOREIGN_MANAGER_TOKEN, name="Mine")
    assert foreign["__typename"] == "NotFound"
    assert foreign["id"] == "ch-1"
    assert await charger(gql, tokens["manager"]) == before
    # and a manager of site 1 cannot edit site 9's charger
    body = await gql(UPDATE, {"input": {"id": "far-1", "name": "Mine"}}, tokens["manager"])
    assert body["data"]["updateCharger"]["__typename"] == "NotFound"
    assert (await charger(gql, FOREIGN_MANAGER_TOKEN, "far-1"))["name"] == "Far 1"
    assert not [e for e in await audit_of(services, "ch-1") if e["action"] == "update_charger"]


async def test_an_unknown_charger_is_not_found(gql: GraphQLClient, tokens: dict[str, str]) -> None:
    body = await gql(UPDATE, {"input": {"id": "nope", "name": "X"}}, tokens["manager"])
    assert body["data"]["updateCharger"] == {
        "__typename": "NotFound",
        "message": body["data"]["updateCharger"]["message"],
        "id": "nope",
    }


async def test_signed_out_callers_are_refused(gql: GraphQLClient) -> None:
    body = await gql(UPDATE, {"input": {"id": "ch-1", "name": "X"}})
    assert body.get("errors")
