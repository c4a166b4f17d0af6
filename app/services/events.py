"""The event bus: services publish after commit; subscriptions and pages listen by topic.

`EventBus` is the interface; `InProcessBus` serves one process. A PostgreSQL NOTIFY or
Redis implementation fans out across processes behind the same interface.
"""

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from app.domain.events import UsageRequestChanged

Event = UsageRequestChanged


class EventBus(Protocol):
    async def publish(self, event: Event) -> None: ...

    def subscribe(self, topics: Iterable[str]) -> AbstractAsyncContextManager[asyncio.Queue[Event]]:
        """`async with bus.subscribe(topics) as events:` events of those topics arrive on
        the queue until the block is left, which unsubscribes."""
        ...

    def is_connected(self) -> bool:
        """Whether events from other processes can reach this one now (for /readyz)."""
        ...


class InProcessBus:
    """Fan-out to queues in this process; a slow subscriber drops its oldest events."""

    def __init__(self, queue_size: int = 256) -> None:
        self._queues: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._queue_size = queue_size

    async def publish(self, event: Event) -> None:
        delivered: set[int] = set()
        for topic in event.topics:
            for queue in list(self._queues.get(topic, ())):
                if id(queue) in delivered:
                    continue
                delivered.add(id(queue))
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self, topics: Iterable[str]) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        topics = list(topics)
        for topic in topics:
            self._queues[topic].add(queue)
        try:
            yield queue
        finally:
            for topic in topics:
                self._queues[topic].discard(queue)
                if not self._queues[topic]:
                    del self._queues[topic]

    def is_connected(self) -> bool:
        return True  # one process: nothing to lose touch with

    def topics(self) -> set[str]:
        """The topics someone listens to now."""
        return set(self._queues)
