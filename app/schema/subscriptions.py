"""Subscriptions over graphql-transport-ws, fed by the event bus.

Events carry ids only. Each event's request is read once per process (services/fanout.py),
whoever subscribes; each subscriber's person is then checked in memory by the rule a query
applies, so a subscription never shows more than a query would, and a person who lost the
right meanwhile gets nothing more. Subscribers who see an event for the same reason get
one shared object, and with the same selection one shared execution result
(shared_results.py). Over graphql-transport-ws, approval-queue subscribers are delivered
to by one task per topic (broadcast.py) once their resolver has passed its permission
classes; what that task cannot send as plain shared data comes back here, one by one.
"""

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from app.domain.model import Status, User
from app.schema import broadcast
from app.schema.context import Context
from app.schema.permissions import IsAuthenticated, IsManager
from app.schema.shared_results import share
from app.schema.types import UsageRequest
from app.services import fanout, queries
from app.services.container import Services
from app.services.events import Event


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="The request now, then again each time it changes.",
    )
    async def usage_request_updated(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> AsyncGenerator[UsageRequest | None, None]:
        services, user = info.context.services, info.context.user
        assert user is not None
        async with services.bus.subscribe([f"request:{id}"]) as events:
            current = await queries.get_request(services, user, str(id))
            yield UsageRequest.from_domain(current) if current else None
            if current is None:
                return
            while True:
                seen = await _seen(services, user, await events.get())
                if seen is not None:
                    yield seen

    @strawberry.subscription(
        permission_classes=[IsManager],
        description="Each request that newly needs one of this manager's decisions.",
    )
    async def approval_queue(self, info: Info[Context, None]) -> AsyncGenerator[UsageRequest, None]:
        services, user = info.context.services, info.context.user
        assert user is not None
        site_ids = await queries.managed_sites(services, user)
        topics = [f"site:{s}" for s in site_ids]
        joinable = broadcast.joinable()
        if joinable is not None:  # over graphql-transport-ws: one task delivers to all
            target, executor = joinable
            async with broadcast.join(services, target, user, executor, topics, _queued) as me:
                while True:  # what the group could not send as plain shared data
                    item = await me.fallback.get()
                    try:
                        if isinstance(item, Exception):
                            raise item
                        assert isinstance(item, Event)
                        seen = await _seen(services, user, item, waiting_for_manager=True)
                        if seen is not None:
                            yield seen
                    finally:
                        me.pending -= 1
        async with services.bus.subscribe(topics) as events:
            while True:
                event = await events.get()
                if event.status != Status.NEEDS_MANAGER.value:
                    continue
                seen = await _seen(services, user, event, waiting_for_manager=True)
                if seen is not None:
                    yield seen


async def _seen(
    services: Services, user: User, event: Event, *, waiting_for_manager: bool = False
) -> UsageRequest | None:
    """The event's request as `user` may see it now, or None. One object per event and
    visibility, shared by every subscriber it is shown to. `waiting_for_manager`: only
    while it waits, and only to a manager of its site (still, now), not to its driver."""
    loaded = await fanout.load(services, event)
    return _shown(loaded, user, waiting_for_manager) if loaded is not None else None


def _queued(loaded: fanout.Loaded, user: User) -> UsageRequest | None:
    return _shown(loaded, user, waiting_for_manager=True)


def _shown(loaded: fanout.Loaded, user: User, waiting_for_manager: bool) -> UsageRequest | None:
    visibility = loaded.visibility(user)
    if visibility is None:
        return None
    if waiting_for_manager and (
        visibility != "manager" or loaded.request.status is not Status.NEEDS_MANAGER
    ):
        return None
    return loaded.derived(
        (UsageRequest, visibility),
        lambda: share(UsageRequest.from_domain(loaded.request, loaded.device, loaded.permit)),
    )
