"""Use cases of a usage request: ask, approve, reject, cancel, collect its permit, expire.

Each is one transaction (one trip to the store's writer) that publishes its event after
the commit. A permit is issued only within PERMIT_LEAD before its window (see
app/domain/permits.py): at approval when the window is that close, otherwise when the
driver collects it or the sweep (`issue_due_permits`) gets there first.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from app.domain.errors import InvalidTransition
from app.domain.model import (
    SLOT_HOLDING,
    Device,
    Permit,
    Reason,
    Slot,
    Status,
    UsageRequest,
    User,
)
from app.domain.permits import PERMIT_LEAD, permit_available_at, permit_due
from app.domain.rules import OFF_THE_CALENDAR, Candidate, Decision, Outcome, evaluate
from app.services.access import require_manager
from app.services.audit import audit_request, request_snapshot, save_request
from app.services.container import Services
from app.services.errors import NotAllowed, NotFound
from app.services.permits import withdraw
from app.services.publishing import write_then_publish
from app.store.audit import AuditLog, AuditRow
from app.store.booking import load_context
from app.store.errors import SlotOverlap
from app.store.permits import Permits
from app.store.repositories import Devices
from app.store.requests import UsageRequests

SLOT_TAKEN = Reason("slot_taken", "The device is already booked for part of that time.")
SLOT_HELD = Reason(
    "slot_held_by_revoked_permit",
    "Part of that time belongs to a permit that was withdrawn but may still work on the "
    "charger: it is free again once the charger confirms the revocation or the window passes.",
)
ISSUE_BATCH = 100  # permits the sweep issues per transaction: bounds how long one holds


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
        if any(slot.overlaps(held) for held in found.held):
            decision = Decision(Outcome.REJECTED, (*decision.reasons, SLOT_HELD))
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
        if decision.approved and permit_due(slot, now):
            with services.metrics.permit_signing.time():
                permit = services.signer.issue(request, device, now)
            Permits(conn).add(permit)
            request = replace(request, permit_id=permit.id)
        audit_request(conn, at=now, actor_id=user.id, action="request", before=None, after=request)
        return Asked(decision, request, device, permit)

    asked = await write_then_publish(services, work, lambda a: [a.request] if a.request else [])
    services.metrics.decided(asked.decision.outcome.value, [r.code for r in asked.decision.reasons])
    return asked


async def approve(services: Services, manager: User, request_id: str) -> UsageRequest:
    now = services.clock()

    def work(conn: Connection) -> UsageRequest:
        before = _managed_request(conn, manager, request_id)
        if before.slot.ends_at <= now and before.holds_slot:
            raise InvalidTransition("EXPIRED", Status.APPROVED.value)  # window has passed
        after = before.moved_to(Status.APPROVED, decided_by=manager.id)
        permit = _issue_if_due(services, conn, after, now)
        if permit is not None:
            after = replace(after, permit_id=permit.id)
        return save_request(conn, before, after, at=now, actor_id=manager.id, action="approve")

    approved = await _decided(services, work)
    services.metrics.decided(Outcome.APPROVED.value, ("by_manager",))
    return approved


async def reject(services: Services, manager: User, request_id: str, note: str) -> UsageRequest:
    now = services.clock()

    def work(conn: Connection) -> UsageRequest:
        before = _managed_request(conn, manager, request_id)
        after = before.moved_to(Status.REJECTED, decided_by=manager.id, note=note[:500])
        return save_request(conn, before, after, at=now, actor_id=manager.id, action="reject")

    rejected = await _decided(services, work)
    services.metrics.decided(Outcome.REJECTED.value, ("by_manager",))
    return rejected


async def cancel(services: Services, user: User, request_id: str) -> UsageRequest:
    """A driver withdraws their own request. An issued permit goes on the revocation list
    and keeps its slot until its window has passed; before a permit exists, cancelling
    revokes nothing and frees the slot at once."""
    now = services.clock()

    def work(conn: Connection) -> UsageRequest:
        before = _own_request(conn, user, request_id, "cancel a request")
        after = withdraw(conn, before, before.moved_to(Status.CANCELLED), now)
        return save_request(conn, before, after, at=now, actor_id=user.id, action="cancel")

    return await _decided(services, work)


async def revoke(services: Services, manager: User, request_id: str, reason: str) -> UsageRequest:
    """A manager withdraws an approved request, with or without its permit yet. An issued
    permit goes on the revocation list and its slot stays held, as in `cancel`."""
    now = services.clock()

    def work(conn: Connection) -> UsageRequest:
        before = _managed_request(conn, manager, request_id)
        after = before.moved_to(Status.REVOKED, decided_by=manager.id, note=reason[:500])
        after = withdraw(conn, before, after, now)
        return save_request(conn, before, after, at=now, actor_id=manager.id, action="revoke")

    return await _decided(services, work)


class PermitNotIssued(Exception):
    """Why an approved request has no permit to collect (yet): a typed denial."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.message)
        self.reason = reason


@dataclass(frozen=True)
class Collected:
    request: UsageRequest
    permit: Permit


async def collect_permit(services: Services, user: User, request_id: str) -> Collected:
    """The permit of the driver's approved request, issued now if its window is within the
    lead. Idempotent: the same permit every time once it exists."""
    now = services.clock()

    def work(conn: Connection) -> tuple[Collected, bool]:
        request = _own_request(conn, user, request_id, "collect its permit")
        if request.permit_id is not None:
            permit = Permits(conn).get(request.permit_id)
            assert permit is not None
            return Collected(request, permit), False
        if request.status is not Status.APPROVED:
            raise PermitNotIssued(_no_permit_reason(request))
        issued = _issue_and_audit(services, conn, request, now, actor_id=user.id)
        if issued is None:
            raise PermitNotIssued(_no_permit_reason(request, now))
        return Collected(*issued), True

    collected, issued = await write_then_publish(
        services, work, lambda done: [done[0].request] if done[1] else []
    )
    return collected


async def issue_due_permits(services: Services, limit: int = ISSUE_BATCH) -> int:
    """Issue the permits of approved requests whose window entered the lead, soonest first,
    at most `limit` in one transaction; subscribers hear of each. Returns how many."""
    now = services.clock()

    def work(conn: Connection) -> list[UsageRequest]:
        return issue_due(services, conn, now, limit)

    issued = await write_then_publish(services, work, lambda done: done)
    return len(issued)


def issue_due(
    services: Services, conn: Connection, now: datetime, limit: int
) -> list[UsageRequest]:
    """`issue_due_permits`' transaction (the sweeper times it: app/services/sweeper.py)."""
    requests = UsageRequests(conn)
    issued, audits = [], []
    for request_id in requests.awaiting_permit(now + PERMIT_LEAD, now, limit):
        # Re-read under the row lock: a driver may have collected or cancelled it since.
        request = requests.get(request_id, for_update=True)
        if request is None or request.status is not Status.APPROVED or request.permit_id:
            continue
        permit = _issue_if_due(services, conn, request, now)
        if permit is None:
            continue
        after = replace(request, permit_id=permit.id)
        audits.append(_sweep_audit(now, "issue_permit", request, after))
        issued.append(after)
    AuditLog(conn).record_many(audits)  # the batch's audit rows in one statement
    return issued


async def expire_overdue(services: Services, limit: int | None = None) -> int:
    """Every slot-holding request whose window has passed stops holding it: a waiting or
    approved one becomes EXPIRED; a withdrawn permit's revocation is no longer pending (the
    permit has expired on every charger). At most `limit` of them, oldest first: the
    sweeper (app/services/sweeper.py) drains a backlog in such bounded transactions."""
    now = services.clock()

    def work(conn: Connection) -> list[UsageRequest]:
        return expire_due(conn, now, limit)

    expired = await write_then_publish(services, work, lambda done: done)
    return len(expired)


def expire_due(conn: Connection, now: datetime, limit: int | None) -> list[UsageRequest]:
    """`expire_overdue`'s transaction (the sweeper times it: app/services/sweeper.py). The
    rows change in one statement for the batch, and their audit rows go in one more."""
    requests = UsageRequests(conn)
    changed, audits = [], []
    for before in requests.overdue(now, limit):
        if before.status in SLOT_HOLDING:
            after, action = before.moved_to(Status.EXPIRED), "expire"
        else:
            after, action = replace(before, revocation_pending=False), "release_slot"
        audits.append(_sweep_audit(now, action, before, after))
        changed.append(after)
    requests.save_statuses(changed)
    AuditLog(conn).record_many(audits)
    return changed


def _sweep_audit(now: datetime, action: str, before: UsageRequest, after: UsageRequest) -> AuditRow:
    """The audit row `audit_request` writes for the server's own change, as a value."""
    return AuditRow(
        at=now,
        actor_id=None,
        action=action,
        entity="usage_request",
        entity_id=after.id,
        before=request_snapshot(before),
        after=request_snapshot(after),
        site_id=after.site_id,
    )


def _issue_if_due(
    services: Services, conn: Connection, request: UsageRequest, now: datetime
) -> Permit | None:
    """Sign and store the permit of an approved request when its window is within the lead."""
    if not permit_due(request.slot, now):
        return None
    device = Devices(conn).get(request.device_id)
    assert device is not None
    with services.metrics.permit_signing.time():
        permit = services.signer.issue(request, device, now)
    Permits(conn).add(permit)
    return permit


def _issue_and_audit(
    services: Services, conn: Connection, request: UsageRequest, now: datetime, actor_id: str | None
) -> tuple[UsageRequest, Permit] | None:
    permit = _issue_if_due(services, conn, request, now)
    if permit is None:
        return None
    after = replace(request, permit_id=permit.id)
    audit_request(
        conn, at=now, actor_id=actor_id, action="issue_permit", before=request, after=after
    )
    return after, permit


def _no_permit_reason(request: UsageRequest, now: datetime | None = None) -> Reason:
    if request.status is Status.NEEDS_MANAGER:
        return Reason("awaiting_manager", "A manager has not approved this request yet.")
    if request.status is not Status.APPROVED:
        status = request.status.value.lower()
        return Reason("not_approved", f"This request is {status}; it has no permit.")
    if now is not None and now >= request.slot.ends_at:
        return Reason("window_passed", "The window of this request has passed.")
    available = permit_available_at(request.slot)
    return Reason(
        "permit_not_yet_available",
        f"Permits are issued at most {PERMIT_LEAD // timedelta(hours=1)} h before their "
        f"window; this one from {available:%Y-%m-%d %H:%M} UTC.",
    )


def _own_request(conn: Connection, user: User, request_id: str, doing: str) -> UsageRequest:
    request = UsageRequests(conn).get(request_id, for_update=True)
    if request is None:
        raise NotFound("usage request", request_id)
    if request.user_id != user.id:
        raise NotAllowed(f"Only the driver who asked can {doing}.")
    return request


def _managed_request(conn: Connection, manager: User, request_id: str) -> UsageRequest:
    request = UsageRequests(conn).get(request_id, for_update=True)
    if request is None:
        raise NotFound("usage request", request_id)
    require_manager(
        conn, manager, request.site_id, "Only a manager of the request's site can decide it."
    )
    return request


async def _decided(services: Services, work: Callable[[Connection], UsageRequest]) -> UsageRequest:
    return await write_then_publish(services, work, lambda done: [done])
