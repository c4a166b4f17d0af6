"""Withdrawing permits and the signed revocation lists that carry that news to devices."""

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.engine import Connection

from app.domain.model import Permit, Status, UsageRequest, User
from app.services.access import require_manager
from app.services.audit import save_request
from app.services.container import Services
from app.services.errors import NotFound
from app.services.publishing import publish
from app.store.audit import AuditLog
from app.store.permits import Permits
from app.store.repositories import Devices
from app.store.requests import UsageRequests
from device.protocol.revocation import MAX_REVOCATION_LIST_SIZE


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
    revoked = replace(permit, revoked_at=now.replace(microsecond=0))
    Permits(conn).save(revoked)
    Devices(conn).next_revocation_sequence(permit.device_id)
    return revoked


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
        after = before.moved_to(
            Status.REVOKED, decided_by=manager.id, note=reason[:500], revocation_pending=True
        )
        save_request(conn, before, after, at=now, actor_id=manager.id, action="revoke")
        revoked = revoke_in_transaction(conn, permit, now)
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

    permit, request = await services.db.write(work)
    await publish(services, request)
    return permit, request


async def revocation_list(services: Services, user: User, device_id: str) -> SignedRevocationList:
    """The device's current list, signed now. Anyone signed in may carry it to the device."""
    now = services.clock()

    def work(conn: Connection) -> SignedRevocationList:
        if Devices(conn).get(device_id) is None:
            raise NotFound("device", device_id)
        sequence = Devices(conn).revocation_sequence(device_id)
        permit_ids = Permits(conn).revoked_ids(device_id, now)
        token = services.signer.revocation_list(device_id, sequence, permit_ids, now)
        if len(token) > MAX_REVOCATION_LIST_SIZE:
            raise RevocationListTooLarge(f"{device_id}: {len(permit_ids)} ids, {len(token)} B")
        return SignedRevocationList(device_id, sequence, permit_ids, token)

    return await services.db.read(work)
