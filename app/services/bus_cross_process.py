"""An event bus over several processes: local fan-out, plus a transport (PostgreSQL
NOTIFY in bus_postgres.py, Redis pub/sub in bus_redis.py) carrying each event to the other
processes.

Subscribers keep the plain `async with bus.subscribe(topics) as queue` contract; what makes
the network safe to ignore happens here:
- dedupe: publishing is at least once (the writer, then maybe a relay; our own events
  echo back from the transport), so each event id is delivered once per process;
- catch-up: when the listener connection comes back after a drop, the events written
  meanwhile are read from the outbox and delivered, instead of silently missed.
"""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, suppress
from functools import partial
from typing import Protocol

from app.services.events import Event, InProcessBus
from app.store import outbox
from app.store.database import Database

log = logging.getLogger("powerpermit.events")

SEEN_IDS = 50_000  # ids remembered for dedupe: far more than arrive in a catch-up window
CATCH_UP_MARGIN_MS = 10_000  # commits out of sequence order land within this
CATCH_UP_LIMIT = 2_000  # events read per page of a catch-up
RECONNECT_S = (0.2, 0.5, 1.0, 2.0, 5.0)  # backoff while the listener is down


class Transport(Protocol):
    """Carries encoded events between processes."""

    async def send_many(self, payloads: list[str]) -> None:
        """Send them all (in one round trip where it can); raises if any may be lost."""
        ...

    def listening(self, received: Callable[[str], None]) -> AbstractAsyncContextManager[None]:
        """Connected and listening while inside; `received` gets every payload sent."""
        ...

    async def wait_closed(self) -> None:
        """Returns when the listening connection is lost."""
        ...

    async def close(self) -> None: ...


class GroupSender:
    """Sends that arrive while one is on its way go together in the next: under a burst of
    commits one round trip carries many events, instead of each waiting its turn for the
    one sending connection (PostgreSQL) or taking a pooled connection of its own (Redis)."""

    def __init__(self, send_many: Callable[[list[str]], Awaitable[None]]) -> None:
        self._send_many = send_many
        self._waiting: list[tuple[str, asyncio.Future[None]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def send(self, payload: str) -> None:
        sent = asyncio.get_running_loop().create_future()
        self._waiting.append((payload, sent))
        if self._sending is None or self._sending.done():
            self._sending = asyncio.create_task(self._send_waiting())
        await sent

    async def _send_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._send_many([payload for payload, _ in batch])
            except Exception as err:  # noqa: BLE001 - every sender in the batch hears of it
                outcome: BaseException | None = err
            else:
                outcome = None
            for _, sent in batch:
                if sent.done():
                    continue  # its publisher was cancelled meanwhile
                if outcome is None:
                    sent.set_result(None)
                else:
                    sent.set_exception(outcome)


class CrossProcessBus(InProcessBus):
    """The in-process fan-out (inherited: `subscribe`, `topics`), fed by every process."""

    def __init__(self, transport: Transport, db: Database, queue_size: int = 256) -> None:
        super().__init__(queue_size)
        self.transport = transport
        self.db = db
        self._sender = GroupSender(transport.send_many)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._connected = False
        self._started = False
        self._last_seq = 0  # highest outbox sequence this process has delivered
        self._lost_at_ms: int | None = None
        self._listener: asyncio.Task[None] | None = None
        self._first_connect = asyncio.Event()
        self._delivering: set[asyncio.Task[None]] = set()
        self.catch_ups = 0  # how many times a reconnect read the outbox (tests, logs)

    # -- EventBus ---------------------------------------------------------------------
    async def publish(self, event: Event) -> None:
        """Deliver here at once, then send to the other processes. Raises when the send
        fails, so the outbox row stays unpublished and a relay sends it later."""
        await self._deliver(event)
        if self._started:
            await self._sender.send(outbox.encode(event))

    def is_connected(self) -> bool:
        return self._connected

    # -- lifecycle --------------------------------------------------------------------
    async def start(self, timeout: float = 10.0) -> None:
        """Start listening; waits (bounded) for the first connection so a server that
        reports ready hears other processes' events."""
        self._started = True
        self._last_seq = await self.db.read(outbox.last_seq)
        self._listener = asyncio.create_task(self._listen_forever())
        try:
            await asyncio.wait_for(self._first_connect.wait(), timeout)
        except TimeoutError:
            log.warning("event listener not connected yet; still trying")

    async def stop(self) -> None:
        self._started = False
        self._connected = False  # a cancelled listener never reaches its own reset
        if self._listener is not None:
            self._listener.cancel()
            with suppress(asyncio.CancelledError):
                await self._listener
        await self.transport.close()

    # -- delivery ---------------------------------------------------------------------
    async def _deliver(self, event: Event) -> None:
        if event.id:
            if event.id in self._seen:
                return
            self._seen[event.id] = None
            if len(self._seen) > SEEN_IDS:
                self._seen.popitem(last=False)
        self._last_seq = max(self._last_seq, event.sequence)
        await super().publish(event)

    def _received(self, payload: str) -> None:
        try:
            event = outbox.decode(payload)
        except (ValueError, TypeError):
            log.warning("undecodable event dropped: %.200s", payload)
            return
        # Tasks start in creation order, so events keep the order they arrived in.
        task = asyncio.get_running_loop().create_task(self._deliver(event))
        self._delivering.add(task)
        task.add_done_callback(self._delivering.discard)

    async def _listen_forever(self) -> None:
        failures = 0
        while True:
            try:
                async with self.transport.listening(self._received):
                    self._connected = True
                    failures = 0
                    self._first_connect.set()
                    if self._lost_at_ms is not None:
                        await self._catch_up(self._lost_at_ms)
                    await self.transport.wait_closed()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - reconnect; report why once per drop
                log.warning("event listener: %s", err)
            if self._lost_at_ms is None:  # kept until a catch-up succeeds: it reads from here
                self._lost_at_ms = outbox.now_ms()
            self._connected = False
            await asyncio.sleep(RECONNECT_S[min(failures, len(RECONNECT_S) - 1)])
            failures += 1

    async def _catch_up(self, lost_at_ms: int) -> None:
        """Listening again: deliver what the outbox holds since the drop (the time margin
        covers transactions that committed out of sequence order)."""
        after, since = self._last_seq, lost_at_ms - CATCH_UP_MARGIN_MS
        read = 0
        while True:  # in pages, however long the listener was away
            page = await self.db.read(
                partial(outbox.since, after_seq=after, since_ms=since, limit=CATCH_UP_LIMIT)
            )
            for event in page:
                await self._deliver(event)
            read += len(page)
            if len(page) < CATCH_UP_LIMIT:
                break
            after, since = page[-1].sequence, outbox.now_ms() + 1  # by sequence from here
        self._lost_at_ms = None
        self.catch_ups += 1
        log.info("event listener back: %d events read from the outbox", read)
