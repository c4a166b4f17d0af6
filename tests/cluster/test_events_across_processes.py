"""Two server processes on one PostgreSQL database are one system: a subscription on A
hears what was done through B, over PostgreSQL NOTIFY and over Redis."""

from collections.abc import Iterator

import httpx
import pytest

from tests.cluster.cluster import Cluster, cluster, watched_request
from tests.http.live import gql, soon
from tests.http.test_subscriptions import APPROVE, QUEUE, ask_until_queued, open_socket, signed_in


@pytest.fixture(scope="module", params=["postgresql", "redis"])
def two_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp(f"cluster-{request.param}"), request.param) as running:
        yield running


async def test_a_decision_made_through_b_reaches_a_subscription_on_a(
    two_servers: Cluster,
) -> None:
    a, b = two_servers.live(0), two_servers.live(1)
    async with (
        httpx.AsyncClient(timeout=30) as client,
        watched_request(client, ask_on=b, watch_on=a, starts_at=soon(hours=3)) as watched,
    ):
        decided = await gql(client, b, APPROVE, {"id": watched.id}, who="manager")
        assert decided["approveUsageRequest"]["status"] == "APPROVED", decided

        second = await watched.next()
        assert second["status"] == "APPROVED"
        assert second["permit"]["id"] == decided["approveUsageRequest"]["permit"]["id"]
        await watched.no_more_messages()


async def test_a_request_made_through_b_reaches_the_managers_queue_on_a(
    two_servers: Cluster,
) -> None:
    a, b = two_servers.live(0), two_servers.live(1)
    device_id = a.devices[1]["id"]
    async with httpx.AsyncClient(timeout=30) as client, open_socket(a) as connection:
        socket = await signed_in(connection, a, "manager")
        op_id = await socket.subscribe(QUEUE)
        _, queued = await ask_until_queued(client, b, device_id, socket, op_id)
        assert queued["device"]["id"] == device_id
