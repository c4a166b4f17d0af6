"""A manager changes a site's policy: validated, audited, in force for the next request.

The rules read the policy from the site's row on every request (app/store/booking.py), so
nothing else needs telling.
"""

from datetime import time, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from app.domain.model import Policy, Reason, Site, User
from app.domain.policy import policy_problems
from app.services.container import Services
from app.services.errors import Invalid
from app.services.sites import managed_site
from app.store.audit import AuditLog
from app.store.site_policy import save_policy


class PolicyRefused(Invalid):
    """The change breaks one or more of the policy's bounds; each reason says which."""

    def __init__(self, reasons: list[Reason]) -> None:
        super().__init__(" ".join(reason.message for reason in reasons))
        self.reasons = reasons


NOT_A_TIME = Reason("opening_hours_invalid", "Write opening hours as HH:MM, e.g. 07:30.")


def clock_time(text: str | None) -> time | None:
    """'HH:MM' as a time; empty for none (open around the clock). Refused in words."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if len(text) != 5:
            raise ValueError(text)
        return time.fromisoformat(text)
    except ValueError:
        raise PolicyRefused([NOT_A_TIME]) from None


def policy_snapshot(policy: Policy) -> dict[str, Any]:
    return {
        "opens_at": _hh_mm(policy.opens_at),
        "closes_at": _hh_mm(policy.closes_at),
        "max_duration_min": policy.max_duration // timedelta(minutes=1),
        "auto_approve_min": policy.auto_approve_up_to // timedelta(minutes=1),
        "horizon_days": policy.booking_horizon.days,
        "max_open_requests": policy.max_open_requests,
    }


async def update_site_policy(
    services: Services,
    manager: User,
    site_id: str,
    *,
    opens_at: time | None,
    closes_at: time | None,
    max_duration: timedelta,
    auto_approve_up_to: timedelta,
    booking_horizon: timedelta,
    max_open_requests: int,
) -> Site:
    """The whole of what a manager sets; the start grace stays the server's own."""
    now = services.clock()

    def work(conn: Connection) -> Site:
        site = managed_site(conn, manager, site_id)
        policy = Policy(
            max_duration=max_duration,
            auto_approve_up_to=auto_approve_up_to,
            booking_horizon=booking_horizon,
            start_grace=site.policy.start_grace,
            max_open_requests=max_open_requests,
            opens_at=opens_at,
            closes_at=closes_at,
        )
        problems = policy_problems(policy)
        if problems:
            raise PolicyRefused(problems)
        save_policy(conn, site, policy)
        AuditLog(conn).record(
            at=now,
            actor_id=manager.id,
            action="update_site_policy",
            entity="site",
            entity_id=site.id,
            before=policy_snapshot(site.policy),
            after=policy_snapshot(policy),
        )
        return managed_site(conn, manager, site_id)

    return await services.db.write(work)


def _hh_mm(moment: time | None) -> str | None:
    return moment.strftime("%H:%M") if moment else None
