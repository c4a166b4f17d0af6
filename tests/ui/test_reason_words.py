"""The pages translate a server's reason by matching its English message against a template
(app/ui/words.py): each reason the rules and the policy bounds can give must match one, or
it would show in English on a Japanese page."""

from datetime import UTC, datetime, time, timedelta

from app.domain.model import Device, Policy, Reason, Role, Site, Slot, User
from app.domain.policy import policy_problems
from app.domain.rules import DEFAULT_RULES, OFF_THE_CALENDAR, Candidate
from app.services import policy, usage
from app.ui.manage import policy as policy_page
from app.ui.words import _PATTERNS, ERROR_TEMPLATES, _pattern

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DRIVER = User("u1", "udo", "Udo", Role.USER)


def reasons_of_every_rule() -> list[Reason]:
    """An ask each rule refuses: out of service, not a member, too long, in the past, ..."""
    policy = Policy(
        max_duration=timedelta(hours=1),
        auto_approve_up_to=timedelta(minutes=30),
        booking_horizon=timedelta(days=1),
        max_open_requests=1,
        opens_at=time(7),
        closes_at=time(8),
    )
    site = Site("s1", "Depot", "Europe/Berlin", policy)  # Udo is no member
    device = Device("ch-1", "Bay 1", "s1", in_service=False)
    asks = [
        Slot(NOW - timedelta(days=3), NOW - timedelta(days=3) + timedelta(hours=2)),
        Slot(NOW + timedelta(days=30), NOW + timedelta(days=30, minutes=10)),
        Slot(NOW - timedelta(minutes=4), NOW + timedelta(minutes=10)),
        Slot(NOW + timedelta(hours=1), NOW + timedelta(hours=1)),
    ]
    found = []
    for slot in asks:
        candidate = Candidate(DRIVER, device, site, slot, NOW, [slot], open_requests=5)
        found += [f.reason for rule in DEFAULT_RULES if (f := rule.check(candidate))]
    missing = Candidate(DRIVER, None, None, asks[0], NOW, [], 0)
    found += [f.reason for rule in DEFAULT_RULES if (f := rule.check(missing))]
    return found + list(OFF_THE_CALENDAR.reasons)


def test_every_rule_and_policy_reason_has_a_template_its_message_matches() -> None:
    bad_policies = [
        Policy(max_duration=timedelta(days=9), booking_horizon=timedelta(hours=36)),
        Policy(auto_approve_up_to=timedelta(days=1), max_open_requests=0, opens_at=time(7)),
        Policy(max_duration=timedelta(seconds=90), opens_at=time(7, 0, 30), closes_at=time(9)),
    ]
    reasons = reasons_of_every_rule() + [r for p in bad_policies for r in policy_problems(p)]
    reasons += [usage.SLOT_TAKEN, usage.SLOT_HELD, policy.NOT_A_TIME, policy_page.NOT_WHOLE]
    codes = {reason.code for reason in reasons}
    assert len(codes) >= 18  # the rules' and the bounds' codes were all reached
    for reason in reasons:
        templates = _PATTERNS.get(reason.code, [])
        assert any(pattern.fullmatch(reason.message) for pattern, _words in templates), reason


def test_error_templates_read_their_values_back() -> None:
    patterns = [_pattern(template) for template in ERROR_TEMPLATES]
    found = patterns[1].fullmatch("Maximum power is 100–4000000 W.")
    assert found is not None and found.groupdict() == {"least": "100", "most": "4000000"}
