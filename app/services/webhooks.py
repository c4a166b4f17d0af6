"""Webhooks for integrators: a site's manager (an OAuth2 client's service account is one)
subscribes a URL to request events, and sees its deliveries with every attempt's outcome.
Which change is which event: app/services/webhook_events.py; sending them:
app/services/webhook_delivery.py.
"""

import secrets
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from app.domain.model import User
from app.services.container import Services
from app.services.errors import Invalid, NotAllowed, NotFound
from app.services.sites import managed_site
from app.services.webhook_events import ALL_EVENTS
from app.services.webhook_urls import check_url
from app.store import outbox
from app.store import webhooks as store
from app.store.webhooks import Attempt, Delivery, Subscription

__all__ = ["Attempt", "Delivery", "Subscription"]  # the schema's types map these

MAX_PER_SITE = 20  # each one is a delivery per event: bounds what one manager fans out
RECENT_DELIVERIES = 20


@dataclass(frozen=True)
class Created:
    subscription: Subscription
    secret: str  # shown once, to who created it


@dataclass(frozen=True)
class WithDeliveries:
    subscription: Subscription
    deliveries: list[tuple[Delivery, list[Attempt]]]


def _check_events(events: list[str]) -> tuple[str, ...]:
    unknown = sorted(set(events) - set(ALL_EVENTS))
    if unknown or not events:
        raise Invalid(
            f"Unknown event types: {', '.join(unknown)}. Choose from: {', '.join(ALL_EVENTS)}."
            if unknown
            else f"Name at least one event type: {', '.join(ALL_EVENTS)}."
        )
    return tuple(dict.fromkeys(events))  # in the order given, once each


def _require_manager_role(user: User) -> None:
    if not user.is_manager:
        raise NotAllowed("Only a site's managers may manage its webhooks.")


async def create_webhook(
    services: Services, manager: User, site_id: str, url: str, events: list[str]
) -> Created:
    """Refused with nothing written: a driver, a site the caller does not manage, an unknown
    event type, or a URL that is not https or that reaches this server's own network."""
    _require_manager_role(manager)
    wanted = _check_events(events)
    await services.db.read(lambda conn: managed_site(conn, manager, site_id))
    checked = await check_url(url, services.webhook_allow_private)
    secret = "whsec_" + secrets.token_urlsafe(32)
    subscription = Subscription(
        "wh_" + secrets.token_hex(12),
        site_id,
        manager.id,
        checked,
        secret,
        wanted,
        services.clock(),
    )

    def work(conn: Connection) -> None:
        managed_site(conn, manager, site_id)
        if len(store.subscriptions_of(conn, site_id)) >= MAX_PER_SITE:
            raise Invalid(f"A site has at most {MAX_PER_SITE} webhooks.")
        if store.cursor(conn) is None:
            # Events from before the first subscription are for nobody: the dispatcher
            # starts here, and from now on the outbox keeps what it has not read.
            store.move_cursor(conn, outbox.last_seq(conn))
        store.add_subscription(conn, subscription)

    await services.db.write(work)
    return Created(subscription, secret)


def _owned(conn: Connection, manager: User, subscription_id: str) -> Subscription:
    """To anyone but a manager of its site it does not exist."""
    found = store.get_subscription(conn, subscription_id)
    if found is None:
        raise NotFound("webhook", subscription_id)
    try:
        managed_site(conn, manager, found.site_id)
    except NotFound:
        raise NotFound("webhook", subscription_id) from None
    return found


async def delete_webhook(services: Services, manager: User, subscription_id: str) -> Subscription:
    _require_manager_role(manager)
    now = services.clock()

    def work(conn: Connection) -> Subscription:
        found = _owned(conn, manager, subscription_id)
        store.disable_subscription(conn, subscription_id, now)
        return found

    return await services.db.write(work)


async def webhooks(services: Services, manager: User, site_id: str) -> list[WithDeliveries]:
    """A site's subscriptions with their latest deliveries and every attempt's outcome."""
    _require_manager_role(manager)

    def work(conn: Connection) -> list[WithDeliveries]:
        managed_site(conn, manager, site_id)
        return [
            WithDeliveries(sub, store.recent_deliveries(conn, sub.id, RECENT_DELIVERIES))
            for sub in store.subscriptions_of(conn, site_id)
        ]

    return await services.db.read(work)
