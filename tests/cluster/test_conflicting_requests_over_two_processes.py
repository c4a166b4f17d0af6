"""200 drivers' asks for one charger's same slot arrive at once, spread over two server
processes on one PostgreSQL database: exactly one holds the slot, every other is told the
slot is taken, and the store agrees."""

import asyncio
from collections import Counter
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests import postgres
from tests.cluster.cluster import Cluster, cluster
from tests.http.live import request_usage, soon

ASKS = 200


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("cluster-conflicts")) as running:
        yield running


async def test_two_hundred_conflicting_asks_over_two_processes_leave_one_holder(
    two_servers: Cluster,
) -> None:
    servers = [two_servers.live(0), two_servers.live(1)]
    device_id = servers[0].devices[0]["id"]
    starts_at = soon(hours=5)
    limits = httpx.Limits(max_connections=ASKS)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        answers = await asyncio.gather(
            *(
                # two drivers, alternating servers: the open-request limit is per driver,
                # and the overlap has to be caught across processes, not inside one
                request_usage(
                    client, servers[i % 2], ("user", "user2")[i // 2 % 2], device_id, starts_at, 60
                )
                for i in range(ASKS)
            )
        )
    held = [a for a in answers if a["__typename"] == "UsageRequest"]
    assert len(held) == 1, Counter(a["__typename"] for a in answers)
    assert held[0]["status"] == "APPROVED"
    codes = Counter(r["code"] for a in answers if a not in held for r in a["reasons"])
    assert codes["slot_taken"] + codes["too_many_open_requests"] == ASKS - 1, codes

    connection = await asyncpg.connect(f"postgresql://{postgres.SERVER}/{two_servers.database}")
    try:
        stored = await connection.fetch(
            "SELECT id, status FROM usage_requests WHERE device_id = $1", device_id
        )
    finally:
        await connection.close()
    assert [(str(row["id"]), row["status"]) for row in stored] == [(held[0]["id"], "APPROVED")]
