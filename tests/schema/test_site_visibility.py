"""A person sees the devices, and their availability, of their own sites only."""

from datetime import timedelta
from typing import Any

import pytest

from app.domain.model import Role, User
from app.services import devices
from app.services.container import Services
from app.services.errors import NotFound
from app.store.repositories import Users
from tests.conftest import Clock, GraphQLClient, iso
from tests.schema.foreign_site import FOREIGN_DRIVER_TOKEN, FOREIGN_MANAGER_TOKEN, add_foreign_site

DEVICES = "{ devices { id siteId } }"
DEVICE = "query ($id: ID!) { device(id: $id) { id } }"
AVAILABILITY = """
query ($from: DateTime!, $to: DateTime!) {
  devices { id availability(from: $from, to: $to) { free { startsAt } } }
}
"""


@pytest.fixture
async def foreign_site(services: Services, clock: Clock, demo: dict[str, Any]) -> None:
    """A second site with its own manager, driver and charger."""

    await services.db.write(lambda conn: add_foreign_site(conn, clock.now))


async def device_ids(gql: GraphQLClient, token: str) -> list[str]:
    body = await gql(DEVICES, token=token)
    assert "errors" not in body, body
    return [d["id"] for d in body["data"]["devices"]]


@pytest.mark.usefixtures("foreign_site")
async def test_each_person_lists_only_the_devices_of_their_sites(
    gql: GraphQLClient, tokens: dict[str, str]
) -> None:
    for who in ("user", "user2", "manager"):
        assert await device_ids(gql, tokens[who]) == ["ch-1", "ch-2", "ch-3"]
    assert await device_ids(gql, FOREIGN_DRIVER_TOKEN) == ["far-1"]
    assert await device_ids(gql, FOREIGN_MANAGER_TOKEN) == ["far-1"]


@pytest.mark.usefixtures("foreign_site")
async def test_a_foreign_device_is_as_if_it_did_not_exist(
    gql: GraphQLClient, tokens: dict[str, str]
) -> None:
    assert (await gql(DEVICE, {"id": "far-1"}, tokens["user"]))["data"]["device"] is None
    assert (await gql(DEVICE, {"id": "ch-1"}, FOREIGN_DRIVER_TOKEN))["data"]["device"] is None
    assert (await gql(DEVICE, {"id": "ch-1"}, tokens["user"]))["data"]["device"] == {"id": "ch-1"}


@pytest.mark.usefixtures("foreign_site")
async def test_availability_is_only_for_the_sites_devices(
    gql: GraphQLClient, tokens: dict[str, str], services: Services, clock: Clock
) -> None:
    window = {"from": iso(clock.now), "to": iso(clock.now + timedelta(days=1))}
    body = await gql(AVAILABILITY, window, FOREIGN_DRIVER_TOKEN)
    assert [d["id"] for d in body["data"]["devices"]] == ["far-1"]

    driver = User("u1", "user", "Udo Driver", Role.USER)
    end = clock.now + timedelta(days=1)
    with pytest.raises(NotFound):
        await devices.availability(services, driver, "far-1", clock.now, end)
    assert (await devices.availability(services, driver, "ch-1", clock.now, end)).taken == []


REVOCATION_LIST = "query ($id: ID!) { revocationList(deviceId: $id) { sequence } }"


@pytest.mark.usefixtures("foreign_site")
async def test_a_foreign_devices_revocation_list_is_as_if_it_did_not_exist(
    gql: GraphQLClient, tokens: dict[str, str]
) -> None:
    own = await gql(REVOCATION_LIST, {"id": "ch-1"}, tokens["user"])
    assert own["data"]["revocationList"] is not None
    for device_id, token in (("far-1", tokens["user"]), ("ch-1", FOREIGN_DRIVER_TOKEN)):
        body = await gql(REVOCATION_LIST, {"id": device_id}, token)
        assert body["data"]["revocationList"] is None, body


async def test_a_driver_of_no_site_sees_no_device(services: Services, demo: dict[str, Any]) -> None:
    def work(conn: Any) -> None:
        Users(conn).add(User("u0", "u0", "Nobody", Role.USER))

    await services.db.write(work)
    assert await devices.list_devices(services, User("u0", "u0", "Nobody", Role.USER)) == []
