"""Windows that cannot be used: off the calendar, too short, or spent before they begin."""

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from app.domain.model import Device, Policy, Role, Site, Slot, User
from app.domain.rules import MIN_DURATION, OFF_THE_CALENDAR, Candidate, Outcome, evaluate

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DRIVER = User("u1", "user", "Udo", Role.USER)
SITE = Site("s1", "Depot", "Europe/Berlin", Policy(), frozenset({"m1"}), frozenset({"u1"}))
DEVICE = Device("ch-1", "Bay 1", "s1")


def decide(start: datetime, duration: timedelta, site: Site = SITE) -> tuple[Outcome, list[str]]:
    slot = Slot.starting(start, duration)
    assert slot is not None
    decision = evaluate(Candidate(DRIVER, DEVICE, site, slot, NOW, (), 0))
    return decision.outcome, [r.code for r in decision.reasons]


@pytest.mark.parametrize(
    ("start", "duration"),
    [
        (datetime(9999, 12, 31, 23, 0, tzinfo=UTC), timedelta(hours=2)),  # end past year 9999
        (datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-14))), timedelta(0)),
        (datetime(1, 1, 1, 0, 30, tzinfo=UTC), -timedelta(hours=1)),  # end before year 1
        (datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=14))), timedelta(hours=1)),
    ],
)
def test_a_window_off_the_calendar_is_no_slot(start: datetime, duration: timedelta) -> None:
    assert Slot.starting(start, duration) is None


def test_a_window_on_the_calendar_is_the_slot_asked_for() -> None:
    assert Slot.starting(NOW, timedelta(hours=1)) == Slot(NOW, NOW + timedelta(hours=1))


def test_slots_shorter_than_the_minimum_are_denied_with_their_own_reason() -> None:
    assert MIN_DURATION / timedelta(minutes=1) == 15
    start = NOW + timedelta(hours=1)
    assert decide(start, MIN_DURATION - timedelta(minutes=1)) == (
        Outcome.REJECTED,
        ["duration_too_short"],
    )
    assert decide(start, MIN_DURATION) == (Outcome.APPROVED, [])


def test_a_slot_that_starts_inside_the_grace_must_leave_a_usable_window() -> None:
    inside_grace = NOW - timedelta(minutes=4)
    assert decide(inside_grace, timedelta(minutes=1))[0] is Outcome.REJECTED  # already expired
    assert decide(inside_grace, MIN_DURATION) == (Outcome.REJECTED, ["too_little_time_left"])
    assert decide(inside_grace, MIN_DURATION + timedelta(minutes=4)) == (Outcome.APPROVED, [])


def test_a_start_long_past_is_denied_for_that_reason_alone() -> None:
    assert decide(NOW - timedelta(days=2), timedelta(hours=1)) == (
        Outcome.REJECTED,
        ["start_in_past"],
    )


def test_a_long_grace_cannot_issue_a_window_that_has_already_ended() -> None:
    lenient = replace(SITE, policy=Policy(start_grace=timedelta(hours=1)))
    outcome, codes = decide(NOW - timedelta(minutes=50), timedelta(minutes=30), lenient)
    assert (outcome, codes) == (Outcome.REJECTED, ["too_little_time_left"])


def test_an_opening_hours_site_judges_a_far_start_without_overflowing() -> None:
    day_shift = replace(SITE, policy=Policy(opens_at=time(6), closes_at=time(22)))
    slot = Slot.starting(datetime(9998, 12, 31, 22, 30, tzinfo=UTC), timedelta(minutes=30))
    assert slot is not None
    decision = evaluate(Candidate(DRIVER, DEVICE, day_shift, slot, NOW, (), 0))
    assert "beyond_horizon" in [r.code for r in decision.reasons]


def test_each_new_reason_has_a_message_in_words() -> None:
    asks = [
        (NOW + timedelta(hours=1), timedelta(minutes=1)),  # duration_too_short
        (NOW - timedelta(minutes=4), MIN_DURATION),  # too_little_time_left
    ]
    for start, duration in asks:
        slot = Slot.starting(start, duration)
        assert slot is not None
        for reason in evaluate(Candidate(DRIVER, DEVICE, SITE, slot, NOW, (), 0)).reasons:
            assert reason.message[0].isupper() and reason.message.endswith("."), reason
    assert OFF_THE_CALENDAR.reasons[0].message.endswith(".")
