"""What a site policy may say: the bounds a manager's change must keep.

Each problem is a Reason, so a page and the API show the same words for the same code.
"""

from datetime import time, timedelta

from app.domain.model import Policy, Reason
from app.domain.rules import MIN_DURATION

LONGEST_SLOT = timedelta(days=7)
LONGEST_HORIZON = timedelta(days=365)
MOST_OPEN_REQUESTS = 100


def policy_problems(policy: Policy) -> list[Reason]:
    """Empty when the policy can be applied to the next request as it is."""
    problems = []
    if not MIN_DURATION <= policy.max_duration <= LONGEST_SLOT:
        problems.append(
            Reason(
                "max_duration_out_of_range",
                f"The maximum duration must lie between {_minutes(MIN_DURATION)} min and "
                f"{LONGEST_SLOT.days} days.",
            )
        )
    if not timedelta(0) <= policy.auto_approve_up_to <= policy.max_duration:
        problems.append(
            Reason(
                "auto_approve_out_of_range",
                "The automatic-approval limit must lie between 0 and the maximum duration.",
            )
        )
    if not timedelta(days=1) <= policy.booking_horizon <= LONGEST_HORIZON:
        problems.append(
            Reason(
                "horizon_out_of_range",
                f"The booking horizon must lie between 1 and {LONGEST_HORIZON.days} days.",
            )
        )
    if policy.booking_horizon % timedelta(days=1):
        problems.append(Reason("horizon_not_whole_days", "The booking horizon is whole days."))
    if any(duration % timedelta(minutes=1) for duration in _durations(policy)):
        problems.append(Reason("duration_not_whole_minutes", "Durations are whole minutes."))
    if not 1 <= policy.max_open_requests <= MOST_OPEN_REQUESTS:
        problems.append(
            Reason(
                "open_requests_out_of_range",
                f"Open requests per driver must lie between 1 and {MOST_OPEN_REQUESTS}.",
            )
        )
    if (policy.opens_at is None) != (policy.closes_at is None):
        problems.append(
            Reason(
                "opening_hours_incomplete",
                "Give both the opening and the closing time, or neither (open around the clock).",
            )
        )
    if any(moment and (moment.second or moment.microsecond) for moment in _hours(policy)):
        problems.append(Reason("opening_hours_invalid", "Opening hours are whole minutes."))
    return problems


def _minutes(duration: timedelta) -> int:
    return duration // timedelta(minutes=1)


def _hours(policy: Policy) -> tuple[time | None, time | None]:
    return (policy.opens_at, policy.closes_at)


def _durations(policy: Policy) -> tuple[timedelta, timedelta]:
    return (policy.max_duration, policy.auto_approve_up_to)
