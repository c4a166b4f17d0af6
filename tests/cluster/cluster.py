"""Several real `powerpermit serve` processes on one fresh PostgreSQL database.

Each run creates its own database (`pp_test_<random>`), migrates and seeds it with the CLI,
starts the servers on free loopback ports, and drops the database afterwards. The servers
share one data directory, so they sign with the same permit key, as a deployment would.
"""

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests import postgres
from tests.http.live import (
    GraphQLSocket,
    LiveServer,
    ServerProcess,
    free_port,
    prepare,
    request_usage,
    server_env,
)
from tests.http.test_subscriptions import (
    NEEDS_MANAGER_MINUTES,
    UPDATED,
    next_payload,
    open_socket,
    signed_in,
)

REDIS_URL = os.environ.get("POWERPERMIT_TEST_REDIS", "redis://127.0.0.1:6379/0")


def cluster_env(data_dir: Path, database: str, bus: str, **extra: str) -> dict[str, str]:
    env = server_env(data_dir)
    env["DATABASE_URL"] = postgres.url(database)
    env.pop("REDIS_URL", None)
    if bus == "redis":
        env["REDIS_URL"] = REDIS_URL
    env.pop("POWERPERMIT_TEST_DIE_BEFORE_PUBLISH", None)
    env.update(extra)
    return env


@dataclass
class Cluster:
    database: str
    data_dir: Path
    bus: str
    summary: dict[str, Any]
    servers: list[ServerProcess]

    def live(self, index: int) -> LiveServer:
        """Server `index` as the HTTP tests' LiveServer (tokens and devices are shared)."""
        port = self.servers[index].port
        return LiveServer(
            base_url=f"http://127.0.0.1:{port}",
            ws_url=f"ws://127.0.0.1:{port}/graphql",
            tokens={key: self.summary[key]["token"] for key in ("manager", "user", "user2")},
            devices=self.summary["devices"],
            site=self.summary["site"],
            data_dir=self.data_dir,
        )

    def start_server(self, name: str, **extra: str) -> ServerProcess:
        env = cluster_env(self.data_dir, self.database, self.bus, **extra)
        server = ServerProcess(self.data_dir, free_port(), self.data_dir / f"{name}.log", env)
        self.servers.append(server)
        server.start()
        return server


def needs_postgres() -> None:
    reason = postgres.unavailable()
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI starts PostgreSQL, yet: {reason}")
    if reason:
        pytest.skip(reason)


def needs_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except (OSError, redis.RedisError) as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI starts Redis, yet it is not reachable at {REDIS_URL}: {err}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({err}); start redis-server")


@contextmanager
def cluster(data_dir: Path, bus: str = "postgresql", servers: int = 2) -> Iterator[Cluster]:
    """`servers` processes on a fresh, migrated, seeded database; all stopped, and the
    database dropped, on the way out."""
    needs_postgres()
    if bus == "redis":
        needs_redis()
    database = postgres.create_database()
    running = Cluster(database, data_dir, bus, {}, [])
    try:
        running.summary = prepare(data_dir, cluster_env(data_dir, database, bus))
        for index in range(servers):
            running.start_server(f"server-{index}")
        yield running
    finally:
        for server in running.servers:
            server.stop()
        postgres.drop_database(database)


@dataclass
class Watched:
    """A driver's request that waits for a manager, and that driver's subscription to it."""

    id: str
    socket: GraphQLSocket
    op_id: str

    async def next(self, timeout: float = 10.0) -> Any:
        """The request as the next event on the subscription tells it."""
        return (await next_payload(self.socket, self.op_id, timeout))["usageRequestUpdated"]

    async def no_more_messages(self, watch_s: float = 1.0) -> None:
        """Nothing else arrives for a while: the event came once, not once per route."""
        try:
            message = await self.socket.receive(timeout=watch_s)
        except TimeoutError:
            return
        pytest.fail(f"a second message arrived: {message}")


@asynccontextmanager
async def watched_request(
    client: httpx.AsyncClient,
    ask_on: LiveServer,
    watch_on: LiveServer,
    starts_at: str,
    device: int = 0,
) -> AsyncIterator[Watched]:
    """The driver "user" asks through `ask_on` for a slot of the demo's charger `device`
    that needs a manager, and subscribes to the request on `watch_on`, which has told the
    first state (NEEDS_MANAGER) by the yield."""
    device_id = watch_on.devices[device]["id"]
    asked = await request_usage(client, ask_on, "user", device_id, starts_at, NEEDS_MANAGER_MINUTES)
    assert asked["status"] == "NEEDS_MANAGER", asked
    async with open_socket(watch_on) as connection:
        socket = await signed_in(connection, watch_on, "user")
        watched = Watched(asked["id"], socket, await socket.subscribe(UPDATED, {"id": asked["id"]}))
        assert (await watched.next())["status"] == "NEEDS_MANAGER"
        yield watched
