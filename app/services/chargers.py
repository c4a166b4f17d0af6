"""The manager's chargers as the console lists them, and the trust file a charger starts from."""

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection

from app.domain.model import Device, User
from app.services.container import Services
from app.services.sites import sites_managed_by
from app.store.console import chargers_of
from device.protocol.keys import b64url, key_id, public_key_from_raw

TRUST_FILE_NAME = "permit-keys.json"


@dataclass(frozen=True)
class Charger:
    device: Device
    site_name: str
    timezone: str
    revocation_sequence: int
    last_receipt_at: datetime | None
    key_id: str | None  # the device key's kid (base64url); None before it is commissioned


async def chargers(services: Services, manager: User) -> list[Charger]:
    sites = {site.id: site for site in await sites_managed_by(services, manager)}

    def work(conn: Connection) -> list[Charger]:
        return [
            Charger(
                state.device,
                sites[state.device.site_id].name,
                sites[state.device.site_id].timezone,
                state.revocation_sequence,
                state.last_receipt_at,
                _kid(state.device.public_key),
            )
            for state in chargers_of(conn, list(sites))
        ]

    return await services.db.read(work) if sites else []


def trust_file(services: Services) -> bytes:
    """The server's permit keys as a JWK Set: what `powerpermit-device init --trust` reads,
    the same list the server publishes at /.well-known/permit-keys."""
    return json.dumps(services.signer.jwks(), indent=2).encode()


def _kid(public_key: bytes | None) -> str | None:
    return b64url(key_id(public_key_from_raw(public_key))) if public_key else None
