"""A server killed with SIGKILL right after a commit, before it published the event: the
change is in the store, and another process publishes its event from the outbox, which a
subscriber on that other process sees exactly once.

The kill comes from a test-only fault hook, POWERPERMIT_TEST_DIE_BEFORE_PUBLISH=1, read
from the environment at start (app/settings.py): nothing a client sends can turn it on.
"""

from collections.abc import Iterator

import httpx
import pytest

from tests.cluster.cluster import Cluster, cluster
from tests.cluster.test_events_across_processes import no_more_messages
from tests.http.live import request_usage, soon
from tests.http.test_subscriptions import (
    APPROVE,
    NEEDS_MANAGER_MINUTES,
    UPDATED,
    next_payload,
    open_socket,
    signed_in,
)

RELAYED_WITHIN_S = 15.0  # the relay's grace period (2 s) and tick, with room for a busy box


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("cluster-crash"), servers=1) as running:
        running.start_server("doomed", POWERPERMIT_TEST_DIE_BEFORE_PUBLISH="1")
        yield running


async def test_an_event_whose_writer_died_is_published_by_another_process_once(
    servers: Cluster,
) -> None:
    survivor, doomed = servers.live(0), servers.live(1)
    async with httpx.AsyncClient(timeout=30) as client:
        asked = await request_usage(
            client, survivor, "user", survivor.devices[0]["id"], soon(3), NEEDS_MANAGER_MINUTES
        )
        assert asked["status"] == "NEEDS_MANAGER", asked
        async with open_socket(survivor) as connection:
            socket = await signed_in(connection, survivor, "user")
            op_id = await socket.subscribe(UPDATED, {"id": asked["id"]})
            first = (await next_payload(socket, op_id))["usageRequestUpdated"]
            assert first["status"] == "NEEDS_MANAGER"

            payload = {"query": APPROVE, "variables": {"id": asked["id"]}}
            with pytest.raises(httpx.TransportError):  # it died before answering
                await client.post(
                    doomed.graphql_url, json=payload, headers=doomed.headers("manager")
                )
            process = servers.servers[1].proc
            assert process is not None
            assert process.wait(timeout=10) == -9  # SIGKILL, after its commit

            relayed = await next_payload(socket, op_id, timeout=RELAYED_WITHIN_S)
            assert relayed["usageRequestUpdated"]["status"] == "APPROVED"
            assert relayed["usageRequestUpdated"]["permit"]["token"]
            await no_more_messages(socket, watch_s=3.0)  # once: the relay marks what it sent
