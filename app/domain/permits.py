"""When a permit may exist: only within a lead time before its window.

A permit issued days ahead and then cancelled would sit on its device's revocation list
for days. Issued no earlier than PERMIT_LEAD before its window, and with a withdrawn
permit's slot held until its window has passed, the permits one device's list can name at
once are bounded: their windows do not overlap, each lasts at least the shortest slot, and
each starts before now + PERMIT_LEAD.
"""

from datetime import datetime, timedelta

from app.domain.model import Slot

PERMIT_LEAD = timedelta(hours=24)


def permit_available_at(slot: Slot) -> datetime:
    """The first moment the permit for `slot` may be issued."""
    return slot.starts_at - PERMIT_LEAD


def permit_due(slot: Slot, now: datetime) -> bool:
    """Whether a permit for `slot` may be issued at `now`: inside the lead, window not over."""
    return permit_available_at(slot) <= now < slot.ends_at
