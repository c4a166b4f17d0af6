"""Withdrawing permits and the signed revocation lists that carry that news to devices."""

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.engine import Connection

from app.domain.model import Permit, Status, UsageRequest, User
from app.services.access import belongs_to, require_manager
from app.services.audit import save_request
from app.services.container import Services
from app.services.errors import Invalid, NotFound
from app.services.publishing import write_then_publish
from app.store.audit import AuditLog
from app.store.permits import Permits
from app.store.repositories import Devices
from app.store.requests import UsageRequests
from device.protocol.errors import ProtocolError
from device.protocol.keys import b64url_decode, public_key_from_raw
from device.protocol.revocation import MAX_REVOCATION_LIST_SIZE, read_confirmation


@dataclass(frozen=True)
class SignedRevocationList:
    device_id: str
    sequence: int
    permit_ids: list[str]
    token: bytes


class RevocationListTooLarge(Exception):
    """A list the device would refuse. The lead time and the held slots bound every list
    far below the device's limit (tests/services/test_revocation_flood.py measures it);
    should that ever fail, no such list is handed out."""


def revoke_in_transaction(conn: Connection, permit: Permit, now: datetime) -> Permit:
    """Mark a permit revoked and bump its device's list sequence, so devices learn of it.

    The caller marks the permit's request `revocation_pending`: its slot stays held.
    """
    sequence = Devices(conn).next_revocation_sequence(permit.device_id)
    revoked = replace(permit, revoked_at=now.replace(microsecond=0), revoked_in_sequence=sequence)
    Permits(conn).save(revoked)
    return revoked


def withdraw(
    conn: Connection, before: UsageRequest, after: UsageRequest, now: datetime
) -> UsageRequest:
    """`after` (cancelled or revoked) with the request's issued permit revoked: the slot stays
    held while that revocation is pending. Without a permit there is nothing to revoke."""
    if before.permit_id is None:
        return after
    permit = Permits(conn).get(before.permit_id)
    assert permit is not None
    revoke_in_transaction(conn, permit, now)
    return replace(after, revocation_pending=True)


async def revoke_permit(
    services: Services, manager: User, permit_id: str, reason: str
) -> tuple[Permit, UsageRequest]:
    now = services.clock()

    def work(conn: Connection) -> tuple[Permit, UsageRequest]:
        permit = Permits(conn).get(permit_id)
        if permit is None:
            raise NotFound("permit", permit_id)
        before = UsageRequests(conn).get(permit.request_id, for_update=True)
        assert before is not None
        require_manager(
            conn, manager, before.site_id, "Only a manager of the permit's site can revoke it."
        )
        after = before.moved_to(Status.REVOKED, decided_by=manager.id, note=reason[:500])
        after = withdraw(conn, before, after, now)
        save_request(conn, before, after, at=now, actor_id=manager.id, action="revoke")
        revoked = Permits(conn).get(permit.id)
        assert revoked is not None
        AuditLog(conn).record(
            at=now,
            actor_id=manager.id,
            action="revoke",
            entity="permit",
            entity_id=permit.id,
            before={"revoked": False},
            after={"revoked": True, "reason": reason[:500]},
        )
        return revoked, after

    permit, request = await write_then_publish(services, work, lambda done: [done[1]])
    return permit, request


async def revocation_list(services: Services, user: User, device_id: str) -> SignedRevocationList:
    """The device's current list, signed now. Any manager or member of the device's site
    may carry it to the device; to anyone else the device does not exist."""
    now = services.clock()

    def work(conn: Connection) -> SignedRevocationList:
        device = Devices(conn).get(device_id)
        if device is None or not belongs_to(conn, user, device.site_id):
            raise NotFound("device", device_id)
        sequence = Devices(conn).revocation_sequence(device_id)
        permit_ids = Permits(conn).revoked_ids(device_id, now)
        token = services.signer.revocation_list(device_id, sequence, permit_ids, now)
        if len(token) > MAX_REVOCATION_LIST_SIZE:
            raise RevocationListTooLarge(f"{device_id}: {len(permit_ids)} ids, {len(token)} B")
        return SignedRevocationList(device_id, sequence, permit_ids, token)

    return await services.db.read(work)


@dataclass(frozen=True)
class ConfirmedRevocations:
    device_id: str
    sequence: int
    released: list[UsageRequest]  # requests whose slots are free again


async def confirm_revocations(
    services: Services, device_id: str, confirmation: str
) -> ConfirmedRevocations:
    """A device's signed word (base64url, as the device handed it out) that it holds list
    `sequence`: the permits that list (or an
    earlier one) revoked can no longer charge there, so their slots are free again and
    later lists leave them off. Anyone may carry it: only the device's key can sign it."""
    now = services.clock()

    def work(conn: Connection) -> ConfirmedRevocations:
        devices = Devices(conn)
        device = devices.get(device_id)
        if device is None:
            raise NotFound("device", device_id)
        if device.public_key is None:
            raise Invalid("The device is not commissioned: no key to check its word against.")
        try:
            confirmed = read_confirmation(
                b64url_decode(confirmation),
                public_key_from_raw(device.public_key),
                device_id=device_id,
            )
        except ProtocolError as err:
            raise Invalid(f"The confirmation was refused ({err.code}): {err}") from err
        if confirmed.sequence > devices.revocation_sequence(device_id):
            raise Invalid("The confirmation names a list this server has not signed.")
        released = []
        for permit in Permits(conn).unconfirmed_through(device_id, confirmed.sequence):
            Permits(conn).save(replace(permit, revocation_confirmed_at=now.replace(microsecond=0)))
            before = UsageRequests(conn).get(permit.request_id, for_update=True)
            if before is not None and before.revocation_pending:
                after = replace(before, revocation_pending=False)
                save_request(conn, before, after, at=now, actor_id=None, action="release_slot")
                released.append(after)
        return ConfirmedRevocations(device_id, confirmed.sequence, released)

    result = await write_then_publish(services, work, lambda done: done.released)
    return result
