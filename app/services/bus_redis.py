"""Redis pub/sub as the cross-process transport (chosen when REDIS_URL is set). Redis
channels are server-wide, so the channel is named after the database: servers on one
database hear each other, and a second deployment on the same Redis does not."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

HEALTH_CHECK_S = 5  # pub/sub pings this often, so a dead connection is noticed


def channel_for(database: str) -> str:
    return f"powerpermit:events:{database}"


class RedisTransport:
    def __init__(self, url: str, channel: str) -> None:
        self.url, self.channel = url, channel
        # Names this process's listening connection in CLIENT LIST (tests end it by id).
        self.listener_name = f"powerpermit-listener-{uuid.uuid4().hex[:12]}"
        self._sender = redis.Redis.from_url(url)
        self._reader: asyncio.Task[None] | None = None

    async def send_many(self, payloads: list[str]) -> None:
        """One pipelined round trip for the lot (bus_cross_process.GroupSender gathers them)."""
        async with self._sender.pipeline(transaction=False) as pipe:
            for payload in payloads:
                pipe.publish(self.channel, payload)
            await pipe.execute()

    @asynccontextmanager
    async def listening(self, received: Callable[[str], None]) -> AsyncIterator[None]:
        # No silent retries: redis-py would reconnect and resubscribe on its own, and the
        # messages sent meanwhile would be missed without the bus knowing to catch up.
        client = redis.Redis.from_url(
            self.url,
            health_check_interval=HEALTH_CHECK_S,
            retry=Retry(NoBackoff(), 0),
            client_name=self.listener_name,
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)

            async def read() -> None:
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        data = message["data"]
                        received(data.decode() if isinstance(data, bytes) else str(data))

            self._reader = asyncio.create_task(read())
            yield
        finally:
            if self._reader is not None:
                self._reader.cancel()
                with contextlib.suppress(BaseException):
                    await self._reader
                self._reader = None
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(Exception):
                await client.aclose()

    async def wait_closed(self) -> None:
        """The reader ends (with the error) when the connection is lost."""
        if self._reader is not None:
            await self._reader

    async def close(self) -> None:
        await self._sender.aclose()
