"""A server whose event listener was cut (pg_terminate_backend, as a failover or an
idle-connection killer would) while another server made a decision: its subscriber still
hears of it, once, from the outbox."""

import os
import signal
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests import postgres
from tests.cluster.cluster import Cluster, cluster, watched_request
from tests.http.live import gql, soon
from tests.http.test_subscriptions import APPROVE


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("cluster-catch-up")) as running:
        yield running


async def cut_listener(running: Cluster, index: int) -> None:
    process = running.servers[index].proc
    assert process is not None
    name = f"powerpermit-listener-{process.pid}"
    connection = await asyncpg.connect(f"postgresql://{postgres.SERVER}/{running.database}")
    try:
        cut = await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1",
            name,
        )
    finally:
        await connection.close()
    assert cut == 1, f"no listener named {name}"


async def test_a_decision_made_while_the_listener_was_cut_still_reaches_the_subscriber(
    two_servers: Cluster,
) -> None:
    a, b = two_servers.live(0), two_servers.live(1)
    async with (
        httpx.AsyncClient(timeout=30) as client,
        watched_request(client, ask_on=b, watch_on=a, starts_at=soon(hours=4)) as watched,
    ):
        # A is paused while its listener is cut and B decides: the NOTIFY finds no
        # listener of A's, whatever A's reconnect timing, so only the outbox has it.
        process = two_servers.servers[0].proc
        assert process is not None
        os.kill(process.pid, signal.SIGSTOP)
        try:
            await cut_listener(two_servers, 0)
            decided = await gql(client, b, APPROVE, {"id": watched.id}, who="manager")
            assert decided["approveUsageRequest"]["status"] == "APPROVED", decided
        finally:
            os.kill(process.pid, signal.SIGCONT)

        second = await watched.next(timeout=15.0)
        assert second["status"] == "APPROVED"
        await watched.no_more_messages(watch_s=2.0)
