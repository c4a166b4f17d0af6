"""Webhooks in the API: a site's managers subscribe URLs to request events and see each
delivery with every attempt's outcome (app/services/webhooks.py; docs/webhooks.md)."""

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from app.schema.context import Context
from app.schema.errors import FAILURES, InvalidInput, NotAllowed, NotFound, attempt
from app.schema.permissions import IsAuthenticated, user_of
from app.services import webhooks
from app.services.webhook_events import ALL_EVENTS
from app.services.webhooks import Attempt, Delivery, Subscription


@strawberry.type(description="One try at posting a delivery.")
class WebhookAttempt:
    at: datetime
    status_code: int | None = strawberry.field(description="null: no answer (network error)")
    error: str | None
    duration_ms: int

    @classmethod
    def from_store(cls, a: Attempt) -> "WebhookAttempt":
        return cls(at=a.at, status_code=a.status_code, error=a.error, duration_ms=a.duration_ms)


@strawberry.type(description="One event for one webhook, posted until it is answered 2xx.")
class WebhookDelivery:
    id: strawberry.ID
    event_id: strawberry.ID = strawberry.field(description="The PowerPermit-Event-Id it carries")
    event_type: str
    request_id: strawberry.ID
    status: str = strawberry.field(description="pending, delivered or failed")
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempts: list[WebhookAttempt]

    @classmethod
    def from_store(cls, d: Delivery, attempts: list[Attempt]) -> "WebhookDelivery":
        return cls(
            id=strawberry.ID(str(d.id)),
            event_id=strawberry.ID(d.event_id),
            event_type=d.event_type,
            request_id=strawberry.ID(d.request_id),
            status=d.status,
            attempt_count=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            delivered_at=d.delivered_at,
            created_at=d.created_at,
            attempts=[WebhookAttempt.from_store(a) for a in attempts],
        )


@strawberry.type(description="A URL that gets a site's request events, signed.")
class Webhook:
    id: strawberry.ID
    site_id: strawberry.ID
    url: str
    events: list[str]
    created_at: datetime
    deliveries: list[WebhookDelivery] = strawberry.field(
        description=f"The latest {webhooks.RECENT_DELIVERIES}, newest first."
    )

    @classmethod
    def from_service(
        cls, sub: Subscription, deliveries: list[tuple[Delivery, list[Attempt]]]
    ) -> "Webhook":
        return cls(
            id=strawberry.ID(sub.id),
            site_id=strawberry.ID(sub.site_id),
            url=sub.url,
            events=list(sub.events),
            created_at=sub.created_at,
            deliveries=[WebhookDelivery.from_store(d, a) for d, a in deliveries],
        )


@strawberry.type(description="The new webhook and its signing secret, shown this once only.")
class WebhookCreated:
    webhook: Webhook
    secret: str


@strawberry.type
class WebhookDeleted:
    id: strawberry.ID


@strawberry.type
class SiteWebhooks:
    site_id: strawberry.ID
    webhooks: list[Webhook]


CreateWebhookResult = Annotated[
    WebhookCreated | InvalidInput | NotFound | NotAllowed, strawberry.union("CreateWebhookResult")
]
DeleteWebhookResult = Annotated[
    WebhookDeleted | NotFound | NotAllowed, strawberry.union("DeleteWebhookResult")
]
WebhooksResult = Annotated[SiteWebhooks | NotFound | NotAllowed, strawberry.union("WebhooksResult")]


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="A site's webhooks with their latest deliveries and every attempt's "
        "outcome; for the site's managers.",
    )
    async def webhooks(self, info: Info[Context, None], site_id: strawberry.ID) -> WebhooksResult:
        services, user = info.context.services, user_of(info)
        found = await attempt(lambda: webhooks.webhooks(services, user, str(site_id)), site_id)
        if isinstance(found, FAILURES):
            return found  # type: ignore[return-value]  # NotFound or NotAllowed only
        return SiteWebhooks(
            site_id=site_id,
            webhooks=[Webhook.from_service(w.subscription, w.deliveries) for w in found],
        )


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="A manager of the site subscribes an https URL to request events: "
        + ", ".join(ALL_EVENTS)
        + ". Deliveries are signed with the secret in the answer (docs/webhooks.md).",
    )
    async def create_webhook(
        self, info: Info[Context, None], site_id: strawberry.ID, url: str, events: list[str]
    ) -> CreateWebhookResult:
        services, user = info.context.services, user_of(info)
        created = await attempt(
            lambda: webhooks.create_webhook(services, user, str(site_id), url, events), site_id
        )
        if isinstance(created, FAILURES):
            return created  # type: ignore[return-value]  # it moves no request
        return WebhookCreated(
            webhook=Webhook.from_service(created.subscription, []), secret=created.secret
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Stops a webhook; its deliveries still waiting are given up.",
    )
    async def delete_webhook(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> DeleteWebhookResult:
        services, user = info.context.services, user_of(info)
        deleted = await attempt(lambda: webhooks.delete_webhook(services, user, str(id)), id)
        if isinstance(deleted, FAILURES):
            return deleted  # type: ignore[return-value]  # NotFound or NotAllowed only
        return WebhookDeleted(id=id)
