"""Live parts of a page: the same event bus that feeds the GraphQL subscriptions."""

import inspect
from collections.abc import Awaitable, Callable, Iterable

from nicegui import background_tasks, context

from app.domain.model import UsageRequest, User
from app.services import fanout
from app.services.container import Services
from app.services.events import Event


async def follow(
    services: Services,
    topics: Iterable[str],
    on_events: Callable[[list[Event]], Awaitable[None] | None],
) -> None:
    """Call `on_events` with the events of `topics` while this page is open in its browser.

    Subscribed when this returns, so a page that follows before it loads what it shows
    misses nothing in between. A burst of events (a manager deciding several requests)
    reaches the page as one call: the page reloads what it shows once, not per event.
    """
    client = context.client
    topics = list(topics)
    subscription = services.bus.subscribe(topics)
    events = await subscription.__aenter__()

    async def listen() -> None:
        try:
            while True:
                burst = [await events.get()]
                while not events.empty():
                    burst.append(events.get_nowait())
                with client:
                    result = on_events(burst)
                    if inspect.isawaitable(result):
                        await result
        finally:
            await subscription.__aexit__(None, None, None)

    task = background_tasks.create(listen(), name="follow " + ",".join(topics))
    client.on_delete(lambda: task.cancel())


async def follow_requests(
    services: Services,
    user: User,
    topics: Iterable[str],
    on_requests: Callable[[list[UsageRequest]], Awaitable[None] | None],
) -> None:
    """Like `follow`, but hands over the changed requests this person may see, as they are
    now, and nothing for a burst of other people's: each event's request is read once per
    process (services/fanout.py) however many pages and subscriptions show it, instead of
    once per open page."""

    async def changed(events: list[Event]) -> None:
        seen = await fanout.visible(services, user, events)
        if seen:
            result = on_requests([loaded.request for loaded in seen])
            if inspect.isawaitable(result):
                await result

    await follow(services, topics, changed)


class Newest:
    """Overlapping refreshes of one async refreshable: only the newest draws, once.

    NiceGUI clears a refreshable's container when a refresh task starts, then runs the
    function; two refreshes close together (the page's own action and its event) each
    draw after their awaits, and the list showed twice. A refreshable takes a `turn()`
    first, does all its awaiting, then asks `may_draw(turn)`: False for a superseded turn;
    True for the newest, after clearing whatever an earlier turn drew meanwhile. It must
    not await again while it draws.
    """

    def __init__(self) -> None:
        self._turn = 0

    def turn(self) -> int:
        self._turn += 1
        return self._turn

    def may_draw(self, turn: int) -> bool:
        if turn != self._turn:
            return False
        context.slot.parent.clear()  # the refreshable's own container
        return True
