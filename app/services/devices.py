"""Devices: listing what a person may see, availability, and commissioning."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection

from app.domain.model import Device, Slot, User
from app.services.access import require_manager
from app.services.container import Services
from app.services.errors import Invalid, NotAllowed, NotFound
from app.store.audit import AuditLog
from app.store.repositories import Devices, Sites
from app.store.requests import UsageRequests
from device.protocol import ProtocolError
from device.protocol.keys import b64url, b64url_decode, public_key_from_raw

MAX_AVAILABILITY_SPAN_S = 31 * 24 * 3600


@dataclass(frozen=True)
class Availability:
    free: list[Slot]
    taken: list[Slot]


async def list_devices(services: Services, user: User) -> list[Device]:
    def work(conn: Connection) -> list[Device]:
        site_ids = Sites(conn).managed_by(user.id) if user.is_manager else None
        return Devices(conn).visible_to(site_ids)

    return await services.db.read(work)


async def load_devices(services: Services, device_ids: list[str]) -> list[Device | None]:
    """In order, one query: the DataLoader behind every `device` field."""
    found = await services.db.read(lambda conn: Devices(conn).many(device_ids))
    return [found.get(device_id) for device_id in device_ids]


async def availability(
    services: Services, device_id: str, start: datetime, end: datetime
) -> Availability:
    if end <= start or (end - start).total_seconds() > MAX_AVAILABILITY_SPAN_S:
        raise Invalid("The range must be positive and at most 31 days.")
    window = Slot(start, end)
    taken = await services.db.read(
        lambda conn: UsageRequests(conn).holding_slots(device_id, window)
    )
    taken.sort(key=lambda slot: slot.starts_at)
    free: list[Slot] = []
    cursor = start
    for slot in taken:
        if slot.starts_at > cursor:
            free.append(Slot(cursor, slot.starts_at))
        cursor = max(cursor, slot.ends_at)
    if cursor < end:
        free.append(Slot(cursor, end))
    return Availability(free, taken)


async def register_device(
    services: Services, manager: User, device_id: str, name: str, site_id: str, public_key: str
) -> Device:
    """Commission a device: a new one, or a known one of the manager's site getting its key."""
    now = services.clock()
    try:
        raw_key = b64url_decode(public_key)
        public_key_from_raw(raw_key)
    except ProtocolError as err:
        raise Invalid("publicKey must be a base64url raw Ed25519 key (32 bytes).") from err
    if not device_id or len(device_id) > 32 or not name.strip():
        raise Invalid("A device needs an id of 1–32 characters and a name.")

    def work(conn: Connection) -> Device:
        if Sites(conn).get(site_id) is None:
            raise NotFound("site", site_id)
        require_manager(
            conn, manager, site_id, "Only a manager of the site can register its devices."
        )
        devices = Devices(conn)
        existing = devices.get(device_id)
        if existing is not None and existing.site_id != site_id:
            raise NotAllowed("That device id belongs to another site.")
        if existing is None:
            devices.add(Device(device_id, name.strip(), site_id, public_key=raw_key))
        else:
            devices.set_public_key(device_id, raw_key)
        AuditLog(conn).record(
            at=now,
            actor_id=manager.id,
            action="register_device",
            entity="device",
            entity_id=device_id,
            before={"public_key": b64url(existing.public_key)}
            if existing and existing.public_key
            else None,
            after={"public_key": public_key, "site_id": site_id},
        )
        device = devices.get(device_id)
        assert device is not None
        return device

    return await services.db.write(work)
