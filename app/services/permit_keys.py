"""Permit-key rotation as the operator and the phone see it: list, rotate, prune, and the
signed trust-list document a phone carries to a charger.

The keyring (files) says which keys exist; the database says which permits each one
signed. A retired key stays published until the last of its permits has expired.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from app.domain.model import User
from app.services.access import belongs_to
from app.services.container import Services
from app.services.errors import NotFound
from app.services.keyring import (
    FIRST_KEY,
    KeyEntry,
    Keyring,
    LiveKeyring,
    prunable,
    still_needed,
)
from app.store.permits import Permits
from app.store.repositories import Devices
from device.protocol.trust_update import TrustListDocument

NEVER = datetime.max.replace(tzinfo=UTC)  # "a permit we have not counted may still need it"


@dataclass(frozen=True)
class KeyStatus:
    kid: str
    created: datetime
    retired: datetime | None
    current: bool
    staged: bool  # published by `keys add`, signs nothing until the next rotation
    last_permit_expires: datetime | None  # None: it signed no permit
    prunable: bool
    kept_because: str | None  # why prune keeps it, when it does


def _keys(services: Services) -> LiveKeyring:
    keys = services.signer.keys
    if not isinstance(keys, LiveKeyring):
        raise TypeError("this server signs with a fixed key, not a keyring")
    return keys


async def _last_expiries(services: Services, ring: Keyring) -> dict[str, datetime | None]:
    def work(conn: Connection) -> dict[str, datetime | None]:
        permits = Permits(conn)
        return {
            e.kid: permits.last_expiry(e.kid, with_unrecorded=e.file == FIRST_KEY)
            for e in ring.entries
        }

    return await services.db.read(work)


async def list_keys(services: Services, now: datetime) -> list[KeyStatus]:
    """Every published key, oldest first."""
    ring = _keys(services).directory.load()
    expiries = await _last_expiries(services, ring)
    return [
        KeyStatus(
            kid=e.kid,
            created=e.created,
            retired=e.retired,
            current=e.kid == ring.current_kid,
            staged=e in ring.staged,
            last_permit_expires=expiries[e.kid],
            prunable=prunable(e, now, expiries[e.kid]),
            kept_because=still_needed(e, now, expiries[e.kid]),
        )
        for e in ring.entries
    ]


def add_key(services: Services, now: datetime) -> Keyring:
    """Publish the next key without signing with it: rotate once chargers have it."""
    return _keys(services).directory.add(now)


def rotate_keys(services: Services, now: datetime) -> Keyring:
    """The next key (the one `add_key` published, else a new one) becomes current; every
    server process on this data directory signs with it from its next permit on."""
    return _keys(services).directory.rotate(now)


async def prune_keys(services: Services, now: datetime, kid: str | None = None) -> list[str]:
    """Drop the retired keys whose last permit has expired (or only `kid`, refused with
    the reason while a permit may still need it); the kids dropped."""
    directory = _keys(services).directory
    expiries = await _last_expiries(services, directory.load())

    def last_expiry(entry: KeyEntry) -> datetime | None:
        # A key added after the count above (a rotation meanwhile) is current: never pruned.
        return expiries.get(entry.kid, NEVER)

    return directory.prune(now, last_expiry, only=kid)


@dataclass(frozen=True)
class SignedTrustList:
    document: TrustListDocument
    token: bytes


async def trust_list(services: Services, user: User, device_id: str) -> SignedTrustList:
    """The trust-list document for one device, signed now. Like its revocation list, any
    manager or member of the device's site may carry it; to anyone else it does not exist."""
    now = services.clock()

    def work(conn: Connection) -> None:
        device = Devices(conn).get(device_id)
        if device is None or not belongs_to(conn, user, device.site_id):
            raise NotFound("device", device_id)

    await services.db.read(work)
    document, token = services.signer.trust_document(device_id, now)
    return SignedTrustList(document, token)
