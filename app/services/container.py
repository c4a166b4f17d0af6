"""What every use case needs, built once by the composition root and passed explicitly."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.services.events import EventBus, InProcessBus
from app.services.signer import PermitSigner
from app.services.token_cache import TokenCache
from app.settings import Settings
from app.store.database import Database
from device.protocol import SigningKey


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    db: Database
    signer: PermitSigner
    bus: EventBus = field(default_factory=InProcessBus)
    clock: Callable[[], datetime] = utc_now
    tokens: TokenCache = field(default_factory=TokenCache)


def build_services(settings: Settings) -> Services:
    key = SigningKey.load_or_create(settings.signing_key_path)
    return Services(db=Database(settings.database_url), signer=PermitSigner(key, settings.issuer))
