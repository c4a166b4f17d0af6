"""A server killed with SIGKILL right after a commit, before it published the event: the
change is in the store, and another process publishes its event from the outbox, which a
subscriber on that other process sees exactly once.

The kill comes from a test-only fault hook, POWERPERMIT_TEST_DIE_BEFORE_PUBLISH=1, read
from the environment at start (app/settings.py): nothing a client sends can turn it on.
"""

from collections.abc import Iterator

import httpx
import pytest

from tests.cluster.cluster import Cluster, cluster, watched_request
from tests.http.live import soon
from tests.http.test_subscriptions import APPROVE

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
    async with (
        httpx.AsyncClient(timeout=30) as client,
        watched_request(client, ask_on=survivor, watch_on=survivor, starts_at=soon(3)) as watched,
    ):
        payload = {"query": APPROVE, "variables": {"id": watched.id}}
        with pytest.raises(httpx.TransportError):  # it died before answering
            await client.post(doomed.graphql_url, json=payload, headers=doomed.headers("manager"))
        process = servers.servers[1].proc
        assert process is not None
        assert process.wait(timeout=10) == -9  # SIGKILL, after its commit

        relayed = await watched.next(timeout=RELAYED_WITHIN_S)
        assert relayed["status"] == "APPROVED"
        assert relayed["permit"]["token"]
        await watched.no_more_messages(watch_s=3.0)  # once: the relay marks what it sent
