"""What every use case needs, built once by the composition root and passed explicitly."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.engine import make_url

from app.observability.metrics import Metrics
from app.services.bus_cross_process import CrossProcessBus
from app.services.events import EventBus, InProcessBus
from app.services.login_guard import LoginGuard
from app.services.outbox import OutboxRelay
from app.services.rate_limits import RateLimiter
from app.services.signer import PermitSigner
from app.services.token_cache import TokenCache
from app.services.webhook_delivery import WebhookWorker
from app.services.withdrawals import Withdrawals
from app.settings import Settings
from app.store.database import Database, is_sqlite

log = logging.getLogger("powerpermit")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    db: Database
    signer: PermitSigner
    bus: EventBus = field(default_factory=InProcessBus)
    clock: Callable[[], datetime] = utc_now
    tokens: TokenCache = field(default_factory=TokenCache)
    metrics: Metrics = field(default_factory=Metrics)  # one registry per app (/metrics)
    relay: OutboxRelay | None = None  # None: nothing marks or relays outbox rows (tests)
    limits: RateLimiter = field(default_factory=RateLimiter)  # this process's buckets
    withdrawals: Withdrawals = field(default_factory=Withdrawals)  # what access ended (poller)
    login_guard: LoginGuard = field(default_factory=LoginGuard)  # failed sign-ins back off
    webhooks: WebhookWorker | None = None  # None: no webhook is sent (tests drive their own)
    webhook_allow_private: bool = False  # Settings.webhook_allow_private (webhook_urls.py)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The app's lifespan: the bus listens to other processes, the relay runs, and the
        withdrawals made so far are loaded before the first request, then polled."""
        try:
            await self.withdrawals.load(self.db, self.clock())
        except Exception as err:  # noqa: BLE001 - an unmigrated store: /readyz says so
            # The poller reads from the first row instead, within half a second of the store
            # answering; until then there is nothing withdrawn to enforce in a store nobody
            # migrated, and a store that failed once fails requests just the same.
            log.warning("withdrawals not loaded at start (%s); the poller reads them all", err)
        if isinstance(self.bus, CrossProcessBus):
            await self.bus.start()
        relay = asyncio.create_task(self.relay.run()) if self.relay is not None else None
        withdrawals = asyncio.create_task(self.withdrawals.run(self.db, self.tokens, self.clock))
        webhooks = asyncio.create_task(self.webhooks.run(self)) if self.webhooks else None
        try:
            yield
        finally:
            if webhooks is not None:
                webhooks.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await webhooks
            withdrawals.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await withdrawals
            if relay is not None:
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay
            if self.relay is not None:
                with contextlib.suppress(Exception):
                    await self.relay.flush()  # what was published is not published twice
            if isinstance(self.bus, CrossProcessBus):
                await self.bus.stop()


def build_bus(settings: Settings, db: Database) -> EventBus:
    """Redis when REDIS_URL is set, else PostgreSQL NOTIFY on a PostgreSQL database, else
    (SQLite: one process) in-process delivery."""
    url = make_url(settings.database_url)
    if settings.redis_url:
        from app.services.bus_redis import RedisTransport, channel_for

        return CrossProcessBus(
            RedisTransport(settings.redis_url, channel_for(url.database or "")), db
        )
    if not is_sqlite(url):
        from app.services.bus_postgres import PostgresTransport

        return CrossProcessBus(PostgresTransport(url), db)
    return InProcessBus()


def build_services(settings: Settings) -> Services:
    # The keyring in the data directory, re-read whenever `powerpermit keys` changes it.
    signer = PermitSigner.from_directory(settings.signing_key_path.parent, settings.issuer)
    db = Database(settings.database_url)
    bus = build_bus(settings, db)
    relay = OutboxRelay(db, bus, die_before_publish=settings.die_before_publish)
    allow_private = settings.webhook_allow_private
    return Services(
        db=db,
        signer=signer,
        bus=bus,
        relay=relay,
        webhooks=WebhookWorker(allow_private),
        webhook_allow_private=allow_private,
    )
