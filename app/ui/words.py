"""How statuses and times read on the pages: one wording for both apps.

Times are stored in UTC and always shown in the site's time zone, with the zone named.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.domain.model import Slot, Status

STATUS_WORDS = {
    Status.NEEDS_MANAGER: "Waiting for a manager",
    Status.APPROVED: "Approved",
    Status.REJECTED: "Rejected",
    Status.CANCELLED: "Cancelled",
    Status.REVOKED: "Revoked",
    Status.EXPIRED: "Expired",
    Status.COMPLETED: "Completed",
}


def status_words(status: Status) -> str:
    return STATUS_WORDS[status]


def moment(at: datetime, timezone: str) -> str:
    """'2026-11-27 09:30 CET (Europe/Berlin)'"""
    local = at.astimezone(ZoneInfo(timezone))
    return f"{local:%Y-%m-%d %H:%M} {local:%Z} ({timezone})"


def slot_words(slot: Slot, timezone: str) -> str:
    """'2026-11-27 09:30–11:00 CET (Europe/Berlin)'; the end's date only when it differs."""
    zone = ZoneInfo(timezone)
    start, end = slot.starts_at.astimezone(zone), slot.ends_at.astimezone(zone)
    end_text = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M}–{end_text} {start:%Z} ({timezone})"


def duration_words(duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" if not rest else f"{hours} h {rest} min"
