"""Subscriptions over graphql-transport-ws, fed by the event bus.

Events carry ids only; each update is reloaded through the services with the
subscriber's own visibility rules, so a subscription never shows more than a query would.
"""

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from app.schema.context import Context
from app.schema.permissions import IsAuthenticated, IsManager
from app.schema.types import UsageRequest
from app.services import queries


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
                await events.get()
                current = await queries.get_request(services, user, str(id))
                if current is not None:
                    yield UsageRequest.from_domain(current)

    @strawberry.subscription(
        permission_classes=[IsManager],
        description="Each request that newly needs one of this manager's decisions.",
    )
    async def approval_queue(self, info: Info[Context, None]) -> AsyncGenerator[UsageRequest, None]:
        services, user = info.context.services, info.context.user
        assert user is not None
        site_ids = await queries.managed_sites(services, user)
        async with services.bus.subscribe([f"site:{s}" for s in site_ids]) as events:
            while True:
                event = await events.get()
                if event.status != "NEEDS_MANAGER":
                    continue
                request = await queries.get_request(services, user, event.request_id)
                if request is not None and request.status.value == "NEEDS_MANAGER":
                    yield UsageRequest.from_domain(request)
