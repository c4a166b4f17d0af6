"""Approval rules, evaluated without any store: fast and exhaustive."""

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from app.domain.errors import InvalidTransition
from app.domain.model import Device, Policy, Role, Site, Slot, Status, UsageRequest, User
from app.domain.rules import Candidate, Outcome, evaluate

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DRIVER = User("u1", "user", "Udo", Role.USER)
SITE = Site("s1", "Depot", "Europe/Berlin", Policy(), frozenset({"m1"}), frozenset({"u1"}))
DEVICE = Device("ch-1", "Bay 1", "s1")


def candidate(
    start: datetime = NOW + timedelta(hours=1), minutes: int = 60, **changes
) -> Candidate:
    base = Candidate(
        user=DRIVER,
        device=DEVICE,
        site=SITE,
        slot=Slot(start, start + timedelta(minutes=minutes)),
        now=NOW,
        taken=(),
        open_requests=0,
    )
    return replace(base, **changes)


def codes(c: Candidate) -> list[str]:
    return [r.code for r in evaluate(c).reasons]


def test_a_plain_short_request_is_approved() -> None:
    decision = evaluate(candidate())
    assert decision.outcome is Outcome.APPROVED and decision.reasons == ()


def test_longer_than_the_automatic_limit_needs_a_manager() -> None:
    decision = evaluate(candidate(minutes=121))
    assert decision.outcome is Outcome.NEEDS_MANAGER
    assert codes(candidate(minutes=121)) == ["needs_manager_approval"]
    assert evaluate(candidate(minutes=120)).outcome is Outcome.APPROVED


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"device": None}, "device_not_found"),
        ({"device": replace(DEVICE, in_service=False)}, "device_unavailable"),
        ({"user": User("u9", "x", "X", Role.USER)}, "site_not_allowed"),
        ({"minutes": 0}, "duration_invalid"),
        ({"minutes": 8 * 60 + 1}, "duration_too_long"),
        ({"start": NOW - timedelta(minutes=6)}, "start_in_past"),
        ({"start": NOW + timedelta(days=15)}, "beyond_horizon"),
        ({"taken": (Slot(NOW + timedelta(minutes=90), NOW + timedelta(hours=3)),)}, "slot_taken"),
        ({"open_requests": 3}, "too_many_open_requests"),
    ],
)
def test_each_rule_rejects_with_its_own_code(changes: dict, code: str) -> None:
    c = candidate(**changes)
    assert evaluate(c).outcome is Outcome.REJECTED
    assert code in codes(c)


def test_a_start_within_the_grace_period_is_still_accepted() -> None:
    assert evaluate(candidate(start=NOW - timedelta(minutes=4))).approved


def test_adjacent_slots_do_not_overlap() -> None:
    start = NOW + timedelta(hours=1)
    taken = (
        Slot(start - timedelta(hours=1), start),
        Slot(start + timedelta(hours=1), start + timedelta(hours=2)),
    )
    assert evaluate(candidate(start=start, taken=taken)).approved


def test_opening_hours_are_read_in_the_sites_time_zone() -> None:
    site = replace(SITE, policy=Policy(opens_at=time(8), closes_at=time(18)))
    # 12:00 UTC on 1 June is 14:00 in Berlin (summer time): open.
    assert evaluate(candidate(site=site)).approved
    # 16:30 UTC is 18:30 in Berlin: closed, although it is before 18:00 UTC.
    late = candidate(site=site, start=NOW + timedelta(hours=4, minutes=30), minutes=30)
    assert codes(late) == ["outside_opening_hours"]
    # Spanning closing time is refused too.
    assert "outside_opening_hours" in codes(
        candidate(site=site, start=NOW + timedelta(hours=3), minutes=90)
    )


def test_overnight_opening_hours_wrap_past_midnight() -> None:
    site = replace(SITE, policy=Policy(opens_at=time(22), closes_at=time(6)))
    night = datetime(2026, 6, 1, 23, 0, tzinfo=UTC)  # 01:00 in Berlin
    assert evaluate(
        candidate(site=site, start=night, minutes=60, now=night - timedelta(hours=1))
    ).approved
    day = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert codes(candidate(site=site, start=day, now=day)) == ["outside_opening_hours"]


def request(status: Status) -> UsageRequest:
    return UsageRequest("1", "u1", "ch-1", "s1", Slot(NOW, NOW + timedelta(hours=1)), status, NOW)


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.NEEDS_MANAGER, Status.APPROVED),
        (Status.NEEDS_MANAGER, Status.REJECTED),
        (Status.NEEDS_MANAGER, Status.CANCELLED),
        (Status.APPROVED, Status.REVOKED),
        (Status.APPROVED, Status.COMPLETED),
        (Status.APPROVED, Status.EXPIRED),
        (Status.EXPIRED, Status.COMPLETED),
    ],
)
def test_allowed_transitions(start: Status, target: Status) -> None:
    assert request(start).moved_to(target).status is target


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.REJECTED, Status.APPROVED),
        (Status.APPROVED, Status.APPROVED),
        (Status.CANCELLED, Status.APPROVED),
        (Status.REVOKED, Status.APPROVED),
        (Status.COMPLETED, Status.CANCELLED),
        (Status.NEEDS_MANAGER, Status.COMPLETED),
        (Status.NEEDS_MANAGER, Status.REVOKED),
    ],
)
def test_illegal_transitions_raise(start: Status, target: Status) -> None:
    with pytest.raises(InvalidTransition):
        request(start).moved_to(target)
