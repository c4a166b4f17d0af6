"""The cross-process bus against a real PostgreSQL and a real Redis: two buses on one
database stand for two server processes. Each event reaches a subscriber once, however
often it is published, and a listener that lost its connection catches up from the outbox.
"""

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import pytest
import redis.asyncio as redis

from app.domain.events import UsageRequestChanged
from app.services import bus_cross_process
from app.services.bus_cross_process import CrossProcessBus
from app.services.bus_postgres import PostgresTransport
from app.services.bus_redis import RedisTransport, channel_for
from app.services.events import Event
from app.store import outbox
from app.store.database import Database
from tests import postgres

REDIS_URL = os.environ.get("POWERPERMIT_TEST_REDIS", "redis://127.0.0.1:6379/0")
QUIET_S = 0.5  # how long a subscriber is watched for an unwanted second copy


async def redis_unavailable() -> str | None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as err:
        return f"Redis is not reachable at {REDIS_URL} ({err}); start redis-server"
    finally:
        await client.aclose()
    return None


@pytest.fixture
def database(postgres_template: str) -> Iterator[str]:
    name = postgres.create_database(template=postgres_template)
    yield name
    postgres.drop_database(name)


BusPair = tuple[CrossProcessBus, CrossProcessBus, Database]


@pytest.fixture(params=["postgresql", "redis"])
async def buses(request: pytest.FixtureRequest, database: str) -> AsyncIterator[BusPair]:
    """Two started buses on one database: process A's and process B's."""
    if request.param == "redis" and (reason := await redis_unavailable()):
        if os.environ.get("CI"):
            pytest.fail(f"CI starts Redis, yet: {reason}")
        pytest.skip(reason)
    db = Database(postgres.url(database))

    def transport() -> PostgresTransport | RedisTransport:
        if request.param == "redis":
            return RedisTransport(REDIS_URL, channel_for(database))
        return PostgresTransport(db.url)

    a, b = CrossProcessBus(transport(), db), CrossProcessBus(transport(), db)
    await a.start()
    await b.start()
    try:
        yield a, b, db
    finally:
        await a.stop()
        await b.stop()
        await db.dispose()


async def committed(db: Database, request_id: str = "1") -> Event:
    """An event row as a use case writes it, in a transaction of its own."""
    event = UsageRequestChanged(request_id, "site-1", "ch-1", "u1", "APPROVED")
    return await db.write(lambda conn: outbox.insert(conn, event))


async def received(
    queue: asyncio.Queue[Event], timeout: float = 10.0, count: int = 1
) -> list[Event]:
    """The first `count` events to arrive, then whatever else arrives while watching."""
    events = [await asyncio.wait_for(queue.get(), timeout) for _ in range(count)]
    await asyncio.sleep(QUIET_S)
    while not queue.empty():
        events.append(queue.get_nowait())
    return events


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_an_event_published_in_one_process_reaches_a_subscriber_in_the_other(
    buses: BusPair,
) -> None:
    a, b, db = buses
    event = await committed(db)
    async with b.subscribe(["site:site-1"]) as on_b, a.subscribe(["site:site-1"]) as on_a:
        await a.publish(event)
        assert await received(on_b) == [event]
        assert await received(on_a) == [event]  # the writer's own, not its echo too


async def test_an_event_published_again_is_delivered_once(buses: BusPair) -> None:
    """The writer publishes, a relay that thought it orphaned publishes it again, and the
    transport echoes both back: the subscriber sees one event."""
    a, b, db = buses
    event = await committed(db)
    async with b.subscribe([f"request:{event.request_id}"]) as on_b:
        await a.publish(event)
        await b.publish(event)
        await a.publish(event)
        assert await received(on_b) == [event]


async def test_a_listener_that_lost_its_connection_catches_up_from_the_outbox(
    buses: BusPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, db = buses
    # B waits a whole second before reconnecting: the event below is surely sent meanwhile.
    monkeypatch.setattr(bus_cross_process, "RECONNECT_S", (1.0,))
    monkeypatch.setattr(bus_cross_process, "CATCH_UP_LIMIT", 2)  # read in several pages
    async with b.subscribe(["site:site-1"]) as on_b:
        await cut_listener(b)
        await until(lambda: not b.is_connected())
        # Sent while B is not listening: the transport drops them for B.
        missed = [await committed(db, str(30 + i)) for i in range(5)]
        for event in missed:
            await a.publish(event)
        assert not b.is_connected()
        await until(b.is_connected)
        assert await received(on_b, count=len(missed)) == missed
        assert b.catch_ups == 1
        # Listening again, live events flow as before, once each.
        live = await committed(db, "42")
        await a.publish(live)
        assert await received(on_b) == [live]


async def cut_listener(bus: CrossProcessBus) -> None:
    """End the bus's listening connection from the server side, as a failover would."""
    transport = bus.transport
    if isinstance(transport, PostgresTransport):
        pid = await transport.listener_pid()
        assert pid is not None
        database = bus.db.url.database
        assert database is not None
        admin = await asyncpg.connect(f"postgresql://{postgres.SERVER}/{database}")
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        return
    assert isinstance(transport, RedisTransport)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        listeners = [c for c in await client.client_list() if c["name"] == transport.listener_name]
        assert listeners, "the bus's listener is not connected"
        for listener in listeners:
            await client.client_kill_filter(_id=listener["id"])
    finally:
        await client.aclose()


async def test_is_connected_follows_the_listener(buses: BusPair) -> None:
    a, _, _ = buses
    assert a.is_connected()
    await cut_listener(a)
    await until(lambda: not a.is_connected())
    await until(a.is_connected)  # it reconnects by itself


async def test_a_burst_of_events_arrives_complete_and_once(buses: BusPair) -> None:
    """Two hundred commits publishing at once (sent together where the transport can)."""
    a, b, db = buses
    events = [await committed(db, str(i)) for i in range(200)]
    async with b.subscribe(["site:site-1"]) as on_b:
        await asyncio.gather(*(a.publish(event) for event in events))
        got = [await asyncio.wait_for(on_b.get(), 10) for _ in events]
        await asyncio.sleep(QUIET_S)
        assert on_b.empty()
    assert sorted(e.sequence for e in got) == [e.sequence for e in events]
