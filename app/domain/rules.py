"""Approval rules: each checks one condition of a usage request against the site's policy.

A policy is an ordered list of rules. Evaluation runs all of them, so a driver learns every
reason at once; a failing rule either rejects the request or sends it to a manager.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from app.domain.model import Device, Reason, Site, Slot, User

# The shortest slot anyone may book, and the least time a permit leaves to use it. It also
# bounds how many permits one device can have issued in any stretch of time.
MIN_DURATION = timedelta(minutes=15)


class Outcome(StrEnum):
    APPROVED = "APPROVED"
    NEEDS_MANAGER = "NEEDS_MANAGER"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class Candidate:
    """Everything the rules may look at: loaded by the service in one transaction."""

    user: User
    device: Device | None
    site: Site | None
    slot: Slot
    now: datetime
    taken: Sequence[Slot]  # slot-holding requests on the device that overlap the ask
    open_requests: int  # the user's requests still waiting or ahead of them


@dataclass(frozen=True)
class Failure:
    reason: Reason
    outcome: Outcome


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]

    @property
    def approved(self) -> bool:
        return self.outcome is Outcome.APPROVED


class Rule(Protocol):
    code: str

    def check(self, c: Candidate) -> Failure | None: ...


def _reject(code: str, message: str) -> Failure:
    return Failure(Reason(code, message), Outcome.REJECTED)


class DeviceInService:
    code = "device_unavailable"

    def check(self, c: Candidate) -> Failure | None:
        if c.device is None or c.site is None:
            return _reject("device_not_found", "No such device.")
        if not c.device.in_service:
            return _reject(self.code, f"{c.device.name} is out of service.")
        return None


class UserAdmitted:
    code = "site_not_allowed"

    def check(self, c: Candidate) -> Failure | None:
        if c.site is not None and not c.site.admits(c.user):
            return _reject(self.code, f"You are not a member of {c.site.name}.")
        return None


class ValidDuration:
    code = "duration_invalid"

    def check(self, c: Candidate) -> Failure | None:
        if c.slot.duration <= timedelta(0):
            return _reject(self.code, "The duration must be positive.")
        if c.slot.duration < MIN_DURATION:
            minutes = MIN_DURATION // timedelta(minutes=1)
            return _reject("duration_too_short", f"Slots last at least {minutes} minutes.")
        if c.site is not None and c.slot.duration > c.site.policy.max_duration:
            hours = c.site.policy.max_duration / timedelta(hours=1)
            return _reject("duration_too_long", f"Slots are limited to {hours:g} h here.")
        return None


class StartNotInPast:
    code = "start_in_past"

    def check(self, c: Candidate) -> Failure | None:
        grace = c.site.policy.start_grace if c.site else timedelta(0)
        if c.slot.starts_at < c.now - grace:
            return _reject(self.code, "The start time has already passed.")
        return None


class TimeLeftToUse:
    """A start inside the grace period eats into the window: what is left after `now` must
    still be a usable slot, or the permit would be issued spent (or nearly so)."""

    code = "too_little_time_left"

    def check(self, c: Candidate) -> Failure | None:
        if c.slot.duration < MIN_DURATION or StartNotInPast().check(c) is not None:
            return None  # ValidDuration or StartNotInPast already says why
        left = c.slot.ends_at - max(c.slot.starts_at, c.now)
        if left < MIN_DURATION:
            minutes = MIN_DURATION // timedelta(minutes=1)
            return _reject(
                self.code,
                f"Less than {minutes} minutes of that slot would be left; choose a later start.",
            )
        return None


class WithinHorizon:
    code = "beyond_horizon"

    def check(self, c: Candidate) -> Failure | None:
        if c.site is not None and c.slot.starts_at > c.now + c.site.policy.booking_horizon:
            days = c.site.policy.booking_horizon.days
            return _reject(self.code, f"Slots can be booked at most {days} days ahead.")
        return None


class WithinOpeningHours:
    code = "outside_opening_hours"

    def check(self, c: Candidate) -> Failure | None:
        if c.site is None or c.site.policy.always_open or c.slot.duration <= timedelta(0):
            return None
        if not _inside_opening_hours(c.site, c.slot):
            policy = c.site.policy
            return _reject(
                self.code,
                f"The site is open {policy.opens_at:%H:%M}–{policy.closes_at:%H:%M} "
                f"({c.site.timezone}).",
            )
        return None


class SlotFree:
    code = "slot_taken"

    def check(self, c: Candidate) -> Failure | None:
        if any(c.slot.overlaps(taken) for taken in c.taken):
            return _reject(self.code, "The device is already booked for part of that time.")
        return None


class OpenRequestLimit:
    code = "too_many_open_requests"

    def check(self, c: Candidate) -> Failure | None:
        if c.site is not None and c.open_requests >= c.site.policy.max_open_requests:
            limit = c.site.policy.max_open_requests
            return _reject(self.code, f"You already have {limit} open requests.")
        return None


class AutomaticApprovalLimit:
    code = "needs_manager_approval"

    def check(self, c: Candidate) -> Failure | None:
        if c.site is not None and c.slot.duration > c.site.policy.auto_approve_up_to:
            hours = c.site.policy.auto_approve_up_to / timedelta(hours=1)
            return Failure(
                Reason(self.code, f"Slots longer than {hours:g} h need a manager's approval."),
                Outcome.NEEDS_MANAGER,
            )
        return None


DEFAULT_RULES: tuple[Rule, ...] = (
    DeviceInService(),
    UserAdmitted(),
    ValidDuration(),
    StartNotInPast(),
    TimeLeftToUse(),
    WithinHorizon(),
    WithinOpeningHours(),
    SlotFree(),
    OpenRequestLimit(),
    AutomaticApprovalLimit(),
)


# For an ask whose window cannot even be computed (Slot.starting gave None).
OFF_THE_CALENDAR = Decision(
    Outcome.REJECTED,
    (Reason("start_out_of_range", "That start time and duration lie outside the calendar."),),
)


def evaluate(candidate: Candidate, rules: Sequence[Rule] = DEFAULT_RULES) -> Decision:
    failures = [f for rule in rules if (f := rule.check(candidate)) is not None]
    reasons = tuple(f.reason for f in failures)
    if any(f.outcome is Outcome.REJECTED for f in failures):
        return Decision(Outcome.REJECTED, reasons)
    if failures:
        return Decision(Outcome.NEEDS_MANAGER, reasons)
    return Decision(Outcome.APPROVED, ())


def _inside_opening_hours(site: Site, slot: Slot) -> bool:
    """True when the whole slot lies inside one daily opening period, in local time."""
    policy = site.policy
    assert policy.opens_at is not None and policy.closes_at is not None
    zone = ZoneInfo(site.timezone)
    start_local = slot.starts_at.astimezone(zone)
    for day_offset in (-1, 0):
        day = start_local.date() + timedelta(days=day_offset)
        opens = datetime.combine(day, policy.opens_at, tzinfo=zone)
        closes_day = day if policy.closes_at > policy.opens_at else day + timedelta(days=1)
        closes = datetime.combine(closes_day, policy.closes_at, tzinfo=zone)
        if opens <= slot.starts_at and slot.ends_at <= closes:
            return True
    return False
