"""The manager's chargers as the console lists them, and the trust file a charger starts from."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from app.domain.model import Device, User
from app.services.access import belongs_to, require_manager
from app.services.container import Services
from app.services.devices import MAX_NAME_LENGTH, check_link_url
from app.services.errors import Invalid, NotFound
from app.services.sites import sites_managed_by
from app.store.audit import AuditLog
from app.store.console import chargers_of
from app.store.repositories import Devices
from device.protocol.keys import b64url, key_id, public_key_from_raw

TRUST_FILE_NAME = "permit-keys.json"
# From a bicycle charger to a megawatt truck charger; the permit carries it as a limit.
MIN_POWER_W = 100
MAX_POWER_W = 4_000_000


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


async def update_charger(
    services: Services,
    manager: User,
    device_id: str,
    *,
    name: str | None = None,
    link_url: str | None = None,
    in_service: bool | None = None,
    max_power_w: int | None = None,
) -> Device:
    """A manager of the charger's site edits it; None leaves a field as it is, an empty
    `link_url` removes the link. Every value is checked before anything is written, and the
    change is audited with only the fields that changed."""
    changes: dict[str, Any] = {}
    if name is not None:
        name = name.strip()
        # The rule registration applies, so an edited name is one registration would take.
        if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
            raise Invalid(f"A charger name is 1–{MAX_NAME_LENGTH} printable characters.")
        changes["name"] = name
    if link_url is not None:
        changes["link_url"] = check_link_url(link_url) if link_url.strip() else None
    if in_service is not None:
        changes["in_service"] = in_service
    if max_power_w is not None:
        if not MIN_POWER_W <= max_power_w <= MAX_POWER_W:
            raise Invalid(f"Maximum power is {MIN_POWER_W}–{MAX_POWER_W} W.")
        changes["max_power_w"] = max_power_w
    now = services.clock()

    def work(conn: Connection) -> Device:
        devices = Devices(conn)
        device = devices.get(device_id)
        if device is None or not belongs_to(conn, manager, device.site_id):
            raise NotFound("device", device_id)  # other sites' chargers are not there to see
        require_manager(
            conn, manager, device.site_id, "Only a manager of the site can edit its chargers."
        )
        before = {field: getattr(device, field) for field in changes}
        changed = {field: value for field, value in changes.items() if before[field] != value}
        if not changed:
            return device
        devices.edit(device_id, changed)
        AuditLog(conn).record(
            at=now,
            actor_id=manager.id,
            action="update_charger",
            entity="device",
            entity_id=device_id,
            before={field: before[field] for field in changed},
            after=changed,
            site_id=device.site_id,
        )
        edited = devices.get(device_id)
        assert edited is not None
        return edited

    return await services.db.write(work)


def trust_file(services: Services) -> bytes:
    """The server's permit keys as a JWK Set: what `powerpermit-device init --trust` reads,
    the same list the server publishes at /.well-known/permit-keys."""
    return json.dumps(services.signer.jwks(), indent=2).encode()


def _kid(public_key: bytes | None) -> str | None:
    return b64url(key_id(public_key_from_raw(public_key))) if public_key else None
