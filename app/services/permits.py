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


@dataclass(frozen=True)
class SignedRevocationList:
    device_id: str
    sequence: int
    permit_ids: list[str]
    token: bytes


def revoke_in_transaction(conn: Connection, permit_id: str, device_id: str, now: datetime) -> None:
    """Mark a permit revoked and bump its device's list sequence, so devices learn of it."""
    Permits(conn).mark_revoked(permit_id, now)
    Devices(conn).next_revocation_sequence(device_id)


async def revoke_permit(
    services: Services, manager: User, permit_id: str, reason: str
) -> tuple[Permit, UsageRequest]:
    now = services.clock()

    def work(conn: Connection) -> tuple[Permit, UsageRequest]:
        permit = Permits(conn).get(permit_id)
        if permit is None:
            raise NotFound("permit", permit_id)
        before = UsageRequests(conn).get(permit.request_id)
        assert before is not None
        require_manager(
            conn, manager, before.site_id, "Only a manager of the permit's site can revoke it."
        )
        after = before.moved_to(Status.REVOKED, decided_by=manager.id, note=reason[:500])
        save_request(conn, before, after, at=now, actor_id=manager.id, action="revoke")
        revoke_in_transaction(conn, permit.id, permit.device_id, now)
        AuditLog(conn).record(
            at=now,
            actor_id=manager.id,
            action="revoke",
            entity="permit",
            entity_id=permit.id,
            before={"revoked": False},
            after={"revoked": True, "reason": reason[:500]},
        )
        return replace(permit, revoked_at=now.replace(microsecond=0)), after

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
        return SignedRevocationList(device_id, sequence, permit_ids, token)

    return await services.db.read(work)
