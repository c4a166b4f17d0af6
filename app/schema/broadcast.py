"""One task per topic delivers an event to every local subscriber of that topic.

Each approval-queue subscriber used to wait on its own queue and run strawberry's
per-operation result stream for every event: with 1,000 subscribers that was 1,000 task
wake-ups, 1,000 rounds of extension hooks and result wrapping per event, ~130 us each.

Here a subscriber whose operation runs over graphql-transport-ws (ws_handler.py) joins
its topic's group once strawberry has validated the operation and its permission classes
have let its resolver run. Per event, the group loads the request once (fanout.py), asks
`shown(loaded, user)` per member (the same in-memory visibility check as before, so a
manager removed from the site meanwhile gets nothing), executes each operation once per
visibility class, and writes the spliced `next` frame to each member's socket in one loop.

Whatever is not plain shared data (a result with errors, a field still loading, a failed
read) goes to that member's own fallback queue and through strawberry's stream as before,
with its error masking; later events follow it there until it is sent, so order holds.

Backpressure: a socket's write usually completes at once; one that cannot (its peer stops
reading) finishes in a task of its own while later frames for it queue, up to
MAX_QUEUED. Past that all its operations in groups are ended with an error and get
nothing more (it gets them once it reads again); the other sockets never wait for it.
"""

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult, GraphQLError, execute_subscription_event

from app.domain.model import Status, User
from app.services import fanout
from app.services.container import Services
from app.services.events import Event

log = logging.getLogger(__name__)

MAX_QUEUED = 64  # frames waiting for one socket before its operations are ended
TOO_SLOW = "This connection fell too far behind; events were dropped. Subscribe again."


@dataclass(frozen=True)
class Delivery:
    """Where an operation's messages go: set by the websocket handler for its task."""

    outbox: "Outbox"
    operation_id: str
    encode: Callable[[object], str]  # the payload {"data": ...} as JSON, once per object


delivery: ContextVar[Delivery | None] = ContextVar("delivery", default=None)
# The graphql-core executor that is creating this task's subscription (shared_results.py).
subscribing: ContextVar[Any] = ContextVar("subscribing", default=None)


class Outbox:
    """One socket's frames, in order; never makes the caller wait for a slow peer."""

    def __init__(self, send_text: Callable[[str], Coroutine[Any, Any, None]]) -> None:
        self._send_text = send_text
        self._waiting: deque[tuple[Member, str]] = deque()
        self._busy: asyncio.Task[None] | None = None
        self.members: set[Member] = set()  # this socket's operations in groups

    def push(self, member: "Member", text: str) -> bool:
        """Send or queue `text`; False when this socket already has too much waiting."""
        if self._busy is None:
            self._start(text)
            return True
        if len(self._waiting) >= MAX_QUEUED:
            return False
        self._waiting.append((member, text))
        return True

    def _start(self, text: str) -> None:
        # Run the send up to its first wait: on a socket that keeps up it completes here,
        # without a task per frame; only a send that must wait gets a task.
        coro = self._send_text(text)
        try:
            blocked = coro.send(None)
        except StopIteration:
            return
        except Exception:  # the socket is gone: its handler ends its operations
            return
        self._busy = asyncio.ensure_future(self._finish(coro, blocked))

    async def _finish(self, coro: Coroutine[Any, Any, None], blocked: Any) -> None:
        try:
            await _resume(coro, blocked)
            while self._waiting:
                member, text = self._waiting.popleft()
                if member.active:
                    await self._send_text(text)
        except Exception:  # the socket is gone: its handler ends its operations
            self._waiting.clear()
        finally:
            self._busy = None


async def _resume(coro: Coroutine[Any, Any, None], blocked: Any) -> None:
    """Drive `coro`, which yielded `blocked` to the event loop, to its end, as a task would."""
    while True:
        try:
            if blocked is None:
                await asyncio.sleep(0)
            else:
                await blocked
        except BaseException as exc:
            try:
                blocked = coro.throw(exc)
            except StopIteration:
                return
            continue
        try:
            blocked = coro.send(None)
        except StopIteration:
            return


Shown = Callable[[fanout.Loaded, User], object | None]


class Member:
    """One subscription operation in a topic's group."""

    def __init__(self, target: Delivery, user: User, executor: Any, shown: Shown) -> None:
        self.target = target
        self.user = user
        self.executor = executor
        self.shown = shown
        variables = executor.variable_values.coerced
        self.operation_key = (id(executor.operation), repr(sorted(variables.items())))
        self.prefix = f'{{"id":{json.dumps(target.operation_id)},"type":"next","payload":'
        self.fallback: asyncio.Queue[object] = asyncio.Queue()
        self.pending = 0  # fallback items not yet sent by strawberry
        self.active = True

    def defer(self, item: object) -> None:
        self.pending += 1
        self.fallback.put_nowait(item)


class Group:
    """The members of one topic in one process, fed by one bus subscription."""

    def __init__(self, services: Services, topic: str) -> None:
        self.services = services
        self.topic = topic
        self.members: dict[Member, None] = {}  # an ordered set
        self.ready = asyncio.Event()
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            await self._listen()
        except Exception:
            log.exception("fan-out of %s stopped", self.topic)
            for member in list(self.members):
                leave(member)
                member.defer(RuntimeError(f"fan-out of {self.topic} stopped"))
        finally:
            self.ready.set()  # a member still waiting to join reads its queue instead

    async def _listen(self) -> None:
        async with self.services.bus.subscribe([self.topic]) as events:
            self.ready.set()
            while True:
                event = await events.get()
                if event.status != Status.NEEDS_MANAGER.value:
                    continue
                try:
                    loaded = await fanout.load(self.services, event)
                except Exception:
                    # Each member reads again on its own path and reports what fails.
                    for member in list(self.members):
                        member.defer(event)
                    continue
                self.deliver(event, loaded)

    def deliver(self, event: Event, loaded: fanout.Loaded | None) -> None:
        results: dict[tuple[Any, int], str | None] = {}
        for member in list(self.members):
            if not member.active:  # cut off earlier in this loop with its socket
                continue
            if member.pending:  # behind what strawberry still has to send for it
                member.defer(event)
                continue
            try:
                seen = member.shown(loaded, member.user) if loaded is not None else None
                if seen is None:
                    continue
                key = (member.operation_key, id(seen))
                if key not in results:
                    results[key] = _execute(member, seen)
                body = results[key]
            except Exception:  # this member's own path runs it again and reports it
                body = None
            if body is None:
                member.defer(event)
            elif not member.target.outbox.push(member, member.prefix + body + "}"):
                for cut in list(member.target.outbox.members):  # the whole socket
                    leave(cut)
                    cut.defer(GraphQLError(TOO_SLOW))


def _execute(member: Member, seen: object) -> str | None:
    """The operation's `{"data": ...}` on `seen` as JSON, or None when it is not plain data."""
    result = execute_subscription_event(member.executor.build_per_event_executor(seen))
    if not isinstance(result, ExecutionResult):  # a field still loading: strawberry's path
        getattr(result, "close", lambda: None)()
        return None
    if result.errors or result.extensions:
        return None
    return member.target.encode(result.data)


_groups: dict[tuple[int, str], Group] = {}


def _group_of(services: Services, topic: str) -> Group:
    key = (id(services.bus), topic)
    group = _groups.get(key)
    if group is None or group.services is not services:
        group = _groups[key] = Group(services, topic)
    return group


def leave(member: Member) -> None:
    member.active = False
    member.target.outbox.members.discard(member)
    for key, group in list(_groups.items()):
        if member in group.members:
            del group.members[member]
            if not group.members:
                del _groups[key]
                group.task.cancel()


@asynccontextmanager
async def join(
    services: Services, target: Delivery, user: User, executor: Any, topics: list[str], shown: Shown
) -> AsyncIterator[Member]:
    """Be delivered to while inside; the member's fallback queue is for the caller to send."""
    member = Member(target, user, executor, shown)
    target.outbox.members.add(member)
    groups = [_group_of(services, topic) for topic in topics]
    for group in groups:
        group.members[member] = None
    try:
        for group in groups:
            await group.ready.wait()
        yield member
    finally:
        leave(member)


def joinable() -> tuple[Delivery, Any] | None:
    """This task's delivery and executor when its subscription may join a group."""
    target, executor = delivery.get(), subscribing.get()
    if target is None or executor is None or not fanout.BROADCAST:
        return None
    with suppress(AttributeError):
        executor.variable_values.coerced  # noqa: B018
        return target, executor
    return None
