"""Use cases of a usage request: ask, approve, reject, cancel, expire.

Each is one transaction (one trip to the store's writer) that publishes its event after
the commit.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from app.domain.errors import InvalidTransition
from app.domain.model import Device, Permit, Reason, Slot, Status, UsageRequest, User
from app.domain.rules import OFF_THE_CALENDAR, Candidate, Decision, Outcome, evaluate
from app.services.access import require_manager
from app.services.audit import audit_request, save_request
from app.services.container import Services
from app.services.errors import NotAllowed, NotFound
from app.services.permits import revoke_in_transaction
from app.services.publishing import publish
from app.store.booking import load_context
from app.store.errors import SlotOverlap
from app.store.permits import Permits
from app.store.repositories import Devices
from app.store.requests import UsageRequests

SLOT_TAKEN = Reason("slot_taken", "The device is already booked for part of that time.")


@dataclass(frozen=True)
class Asked:
    decision: Decision
    request: UsageRequest | None  # None when rejected: nothing is stored
    device: Device | None = None
    permit: Permit | None = None


async def request_usage(
    services: Services, user: User, device_id: str, starts_at: datetime, duration: timedelta
) -> Asked:
    now = services.clock()
    slot = Slot.starting(starts_at, duration)
    if slot is None:
        return Asked(OFF_THE_CALENDAR, None)

    def work(conn: Connection) -> Asked:
        found = load_context(conn, user, device_id, slot, now)
        device = found.device
        candidate = Candidate(user, device, found.site, slot, now, found.taken, found.open_requests)
        decision = evaluate(candidate)
        if decision.outcome is Outcome.REJECTED or device is None:
            return Asked(decision, None)
        request = UsageRequest(
            id="",
            user_id=user.id,
            device_id=device.id,
            site_id=device.site_id,
            slot=slot,
            status=Status(decision.outcome.value),
            created_at=now,
            reasons=decision.reasons,
        )
        try:
            request = replace(request, id=UsageRequests(conn).add(request))
        except SlotOverlap:
            return Asked(Decision(Outcome.REJECTED, (SLOT_TAKEN,)), None)
        permit = None
        if decision.approved:
            permit = services.signer.issue(request, device, now)
            Permits(conn).add(permit)
            request = replace(request, permit_id=permit.id)
        audit_request(conn, at=now, actor_id=user.id, action="request", before=None, after=request)
        return Asked(decision, request, device, permit)

    asked = await services.db.write(work)
    if asked.request is not None:
        await publish(services, asked.request)
    return asked


async def approve(services: Services, manager: User, request_id: str) -> UsageRequest:
    now = services.clock()

    def work(conn: Connection) -> UsageRequest:
        before = _managed_request(conn, manager, request_id)
        if before.slot.ends_at <= now and before.holds_slot:
            raise InvalidTransition("EXPIRED", Status.APPROVED.value)  # window has passed
        device = Devices(conn).get(before.device_id)
        assert device is not None
        after = before.moved_to(Status.APPROVED, decided_by=manager.id)
        permit = services.signer.issue(after, device, now)
        after = save_request(
            conn, before, replace(after, permit_id=permit.id),
            at=now, actor_id=manager.id, action="approve",
        )  # fmt: skip
        Permits(conn).add(permit)
        return after

    return await _decided(services, work)


async def reject(services: Services, manager: User, request_id: str, note: str) -> UsageRequest:
    now = services.clock()

    def work(conn: Connection) -> UsageRequest:
        before = _managed_request(conn, manager, request_id)
        after = before.moved_to(Status.REJECTED, decided_by=manager.id, note=note[:500])
        return save_request(conn, before, after, at=now, actor_id=manager.id, action="reject")

    return await _decided(services, work)


async def cancel(services: Services, user: User, request_id: str) -> UsageRequest:
    """A driver withdraws their own request; an issued permit goes on the revocation list."""
    now = services.clock()

    def work(conn: Connection) -> UsageRequest:
        before = UsageRequests(conn).get(request_id)
        if before is None:
            raise NotFound("usage request", request_id)
        if before.user_id != user.id:
            raise NotAllowed("Only the driver who asked can cancel a request.")
        after = before.moved_to(Status.CANCELLED)
        if before.permit_id is not None:
            revoke_in_transaction(conn, before.permit_id, before.device_id, now)
        return save_request(conn, before, after, at=now, actor_id=user.id, action="cancel")

    return await _decided(services, work)


async def expire_overdue(services: Services) -> int:
    """Move every slot-holding request whose window has passed to EXPIRED."""
    now = services.clock()

    def work(conn: Connection) -> list[UsageRequest]:
        overdue = UsageRequests(conn).overdue(now)
        return [
            save_request(
                conn, r, r.moved_to(Status.EXPIRED), at=now, actor_id=None, action="expire"
            )
            for r in overdue
        ]

    expired = await services.db.write(work)
    for request in expired:
        await publish(services, request)
    return len(expired)


def _managed_request(conn: Connection, manager: User, request_id: str) -> UsageRequest:
    request = UsageRequests(conn).get(request_id)
    if request is None:
        raise NotFound("usage request", request_id)
    require_manager(
        conn, manager, request.site_id, "Only a manager of the request's site can decide it."
    )
    return request


async def _decided(services: Services, work: Callable[[Connection], UsageRequest]) -> UsageRequest:
    request = await services.db.write(work)
    await publish(services, request)
    return request
