"""Devices: listing what a person may see, availability, and commissioning."""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.engine import Connection

from app.domain.model import Device, Slot, User
from app.services.access import belongs_to, require_manager
from app.services.container import Services
from app.services.errors import Invalid, NotAllowed, NotFound
from app.store.audit import AuditLog
from app.store.repositories import Devices, Sites
from app.store.requests import UsageRequests
from device.protocol import ProtocolError
from device.protocol.errors import Malformed
from device.protocol.keys import b64url, b64url_decode, public_key_from_raw, raw_public
from device.protocol.possession import MAX_PROOF_SIZE, verify_possession

MAX_AVAILABILITY_SPAN_S = 31 * 24 * 3600
MAX_ID_LENGTH = 32  # the devices.id column
MAX_NAME_LENGTH = 64  # shown on the charger list and in the driver app
MAX_PROOF_TEXT = (MAX_PROOF_SIZE * 4 + 2) // 3  # base64url of the largest proof
MAX_LINK_URL_LENGTH = 255  # the devices.link_url column


@dataclass(frozen=True)
class Availability:
    free: list[Slot]
    taken: list[Slot]


async def list_devices(services: Services, user: User) -> list[Device]:
    """The devices of the sites the person manages or is a member of."""

    def work(conn: Connection) -> list[Device]:
        return Devices(conn).visible_to(Sites(conn).of_person(user.id))

    return await services.db.read(work)


async def get_device(services: Services, user: User, device_id: str) -> Device | None:
    """One device, if it belongs to one of the person's sites (else as if there were none)."""

    def work(conn: Connection) -> Device | None:
        device = Devices(conn).get(device_id)
        return device if device is not None and belongs_to(conn, user, device.site_id) else None

    return await services.db.read(work)


async def load_devices(services: Services, device_ids: list[str]) -> list[Device | None]:
    """In order, one query: the DataLoader behind every `device` field."""
    found = await services.db.read(lambda conn: Devices(conn).many(device_ids))
    return [found.get(device_id) for device_id in device_ids]


async def availability(
    services: Services, user: User, device_id: str, start: datetime, end: datetime
) -> Availability:
    if end <= start or (end - start).total_seconds() > MAX_AVAILABILITY_SPAN_S:
        raise Invalid("The range must be positive and at most 31 days.")
    window = Slot(start, end)

    def work(conn: Connection) -> list[Slot]:
        device = Devices(conn).get(device_id)
        if device is None or not belongs_to(conn, user, device.site_id):
            raise NotFound("device", device_id)
        return UsageRequests(conn).holding_slots(device_id, window)

    taken = await services.db.read(work)
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
    services: Services,
    manager: User,
    device_id: str,
    name: str,
    site_id: str,
    public_key: str,
    proof: str,
    link_url: str | None = None,
) -> Device:
    """Commission a device: a new one, or a known one of the manager's site getting its key.

    The key comes with the device's proof that it holds the private half (see
    device/protocol/possession.py): otherwise receipts signed by someone else's key, even
    the server's own, would count as this device's word. `link_url`, when given, is where
    phones reach its local link; None keeps what a known device had."""
    now = services.clock()
    name = name.strip()
    link_url = check_link_url(link_url) if link_url is not None else None
    if not device_id or len(device_id) > MAX_ID_LENGTH:
        raise Invalid(f"A device id is 1–{MAX_ID_LENGTH} characters.")
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise Invalid(f"A device name is 1–{MAX_NAME_LENGTH} printable characters.")
    try:
        raw_key = b64url_decode(public_key)
        key = public_key_from_raw(raw_key)
    except ProtocolError as err:
        raise Invalid("publicKey must be a base64url raw Ed25519 key (32 bytes).") from err
    if any(raw_public(own) == raw_key for own in services.signer.key_set()):
        raise Invalid("That is the server's own permit key; a device needs a key of its own.")
    _check_possession(proof, device_id, key, now)

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
            devices.add(Device(device_id, name, site_id, public_key=raw_key, link_url=link_url))
        else:
            devices.set_public_key(device_id, raw_key)
            if link_url is not None:
                devices.set_link_url(device_id, link_url)
        AuditLog(conn).record(
            at=now,
            actor_id=manager.id,
            action="register_device",
            entity="device",
            entity_id=device_id,
            before={"public_key": b64url(existing.public_key)}
            if existing and existing.public_key
            else None,
            after={"public_key": public_key, "site_id": site_id, "link_url": link_url},
        )
        device = devices.get(device_id)
        assert device is not None
        return device

    return await services.db.write(work)


def _check_possession(
    proof: str, device_id: str, key: ed25519.Ed25519PublicKey, now: datetime
) -> None:
    fix = "run `powerpermit-device prove --state DIR` on the device for a fresh one"
    try:
        if len(proof) > MAX_PROOF_TEXT:
            raise Malformed("proof too long")
        verify_possession(
            b64url_decode(proof), device_id=device_id, public_key=key, now=int(now.timestamp())
        )
    except ProtocolError as err:
        raise Invalid(
            f"The proof does not show that device {device_id} holds that key ({err}); {fix}."
        ) from err


def check_link_url(text: str) -> str:
    """An http(s) URL with a host and nothing a link could misread, without a trailing '/':
    the driver's page appends /link/... to it. The phone's browser, not the server, uses it.
    """
    url = text.strip().rstrip("/")
    problem = (
        "A link URL is http:// or https://, a host, an optional port and path "
        f"(at most {MAX_LINK_URL_LENGTH} characters)."
    )
    if not url or len(url) > MAX_LINK_URL_LENGTH or not url.isascii() or not url.isprintable():
        raise Invalid(problem)
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as err:  # a port that is not a number, or out of range
        raise Invalid(problem) from err
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None  # credentials would ride along with every request
        or parts.query
        or parts.fragment
        or " " in url
        or not port_ok
    ):
        raise Invalid(problem)
    return url
