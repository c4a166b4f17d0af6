"""How statuses, reasons and times read on the pages: one wording for both apps, in the
page's language.

Times are stored in UTC and always shown in the site's time zone, with the zone named.
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.domain.model import Reason, Slot, Status
from app.ui import i18n
from app.ui.i18n import N_, _

STATUS_WORDS = {
    Status.NEEDS_MANAGER: N_("Waiting for a manager"),
    Status.APPROVED: N_("Approved"),
    Status.REJECTED: N_("Rejected"),
    Status.CANCELLED: N_("Cancelled"),
    Status.REVOKED: N_("Revoked"),
    Status.EXPIRED: N_("Expired"),
    Status.COMPLETED: N_("Completed"),
}

# The server's reasons come as a code and an English message built from a template; each
# template here is written exactly as the server words it, with its values as {names}.
# The page reads the values back out of the English message and puts them into the
# translated template. A message that no template matches is shown as the server sent it.
REASON_TEMPLATES = {
    "device_not_found": N_("No such device."),
    "device_unavailable": N_("{charger} is out of service."),
    "site_not_allowed": N_("You are not a member of {site}."),
    "duration_invalid": N_("The duration must be positive."),
    "duration_too_short": N_("Slots last at least {minutes} minutes."),
    "duration_too_long": N_("Slots are limited to {hours} h here."),
    "start_in_past": N_("The start time has already passed."),
    "too_little_time_left": N_(
        "Less than {minutes} minutes of that slot would be left; choose a later start."
    ),
    "beyond_horizon": N_("Slots can be booked at most {days} days ahead."),
    "outside_opening_hours": N_("The site is open {opens}–{closes} ({zone})."),
    "slot_taken": N_("The device is already booked for part of that time."),
    "too_many_open_requests": N_("You already have {limit} open requests."),
    "needs_manager_approval": N_("Slots longer than {hours} h need a manager's approval."),
    "start_out_of_range": N_("That start time and duration lie outside the calendar."),
    "awaiting_manager": N_("A manager has not approved this request yet."),
    "window_passed": N_("The window of this request has passed."),
    "opening_hours_invalid": N_("Write opening hours as HH:MM, e.g. 07:30."),
    "horizon_not_whole_days": N_("The booking horizon is whole days."),
    "duration_not_whole_minutes": N_("Durations are whole minutes."),
    "not_a_whole_number": N_("Durations, days and counts are whole numbers."),
    "slot_held_by_revoked_permit": N_(
        "Part of that time belongs to a permit that was withdrawn but may still work on the "
        "charger: it is free again once the charger confirms the revocation or the window passes."
    ),
    "not_approved": N_("This request is {status}; it has no permit."),
    "permit_not_yet_available": N_(
        "Permits are issued at most {hours} h before their window; this one from {at} UTC."
    ),
    "max_duration_out_of_range": N_(
        "The maximum duration must lie between {minutes} min and {days} days."
    ),
    "auto_approve_out_of_range": N_(
        "The automatic-approval limit must lie between 0 and the maximum duration."
    ),
    "horizon_out_of_range": N_("The booking horizon must lie between 1 and {days} days."),
    "open_requests_out_of_range": N_("Open requests per driver must lie between 1 and {most}."),
    "opening_hours_incomplete": N_(
        "Give both the opening and the closing time, or neither (open around the clock)."
    ),
}
_FIELD = re.compile(r"\\\{(\w+)\\\}")


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(_FIELD.sub(lambda m: f"(?P<{m.group(1)}>.+?)", re.escape(template)))


# A code the server words in more than one way: its other wordings.
MORE_REASON_TEMPLATES = {
    "opening_hours_invalid": N_("Opening hours are whole minutes."),
}
_PATTERNS: dict[str, list[tuple[re.Pattern[str], str]]] = {}
for _templates in (REASON_TEMPLATES, MORE_REASON_TEMPLATES):
    for _code, _template in _templates.items():
        _PATTERNS.setdefault(_code, []).append((_pattern(_template), _template))


# The services' refusals that carry no code: matched on their English words the same way.
ERROR_TEMPLATES = [
    N_("A charger name is 1–{most} printable characters."),
    N_("Maximum power is {least}–{most} W."),
    N_(
        "A link URL is http:// or https://, a host, an optional port and path "
        "(at most {most} characters)."
    ),
    N_("No {kind} with id {id}."),
    N_("Only a manager of the site can edit its chargers."),
    N_("Only a manager of the site can register its devices."),
    N_("Only a manager of the permit's site can revoke it."),
    N_("Only a manager of the request's site can decide it."),
    N_("Only the driver who asked can cancel a request."),
    N_("Only the driver who asked can collect its permit."),
    N_("a {current} request cannot become {wanted}"),
    N_("A device id is 1–{most} characters."),
    N_("A device name is 1–{most} printable characters."),
    N_("publicKey must be a base64url raw Ed25519 key (32 bytes)."),
    N_("That is the server's own permit key; a device needs a key of its own."),
    N_("That device id belongs to another site."),
    N_(
        "The proof does not show that device {id} holds that key ({problem}); run "
        "`powerpermit-device prove --state DIR` on the device for a fresh one."
    ),
    N_("The device is not commissioned: no key to check its word against."),
    N_("The confirmation was refused ({code}): {problem}"),
    N_("The confirmation names a list this server has not signed."),
]
_ERROR_PATTERNS = [(_pattern(template), template) for template in ERROR_TEMPLATES]


def error_words(error: Exception) -> str:
    """A service's refusal in the page's language (as it came, if no template knows it)."""
    message = str(error)
    for pattern, template in _ERROR_PATTERNS:
        found = pattern.fullmatch(message)
        if found is not None:
            return _(template).format(**_values(found))
    return message


def _values(found: re.Match[str]) -> dict[str, str]:
    """A message's values; in another language than the server's, a status among them in
    that language's words."""
    if i18n.current() == i18n.DEFAULT:
        return found.groupdict()  # the server's own English, as it wrote it
    return {
        name: status_words(Status(value.upper())) if value.upper() in Status.__members__ else value
        for name, value in found.groupdict().items()
    }


def status_words(status: Status) -> str:
    return _(STATUS_WORDS[status])


def reason_words(reason: Reason) -> str:
    """A server's reason in the page's language."""
    for pattern, template in _PATTERNS.get(reason.code, []):
        found = pattern.fullmatch(reason.message)
        if found is not None:
            return _(template).format(**_values(found))
    return _(reason.message)  # a fixed message may still be in the catalog


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
        return _("{minutes} min").format(minutes=rest)
    if not rest:
        return _("{hours} h").format(hours=hours)
    return _("{hours} h {minutes} min").format(hours=hours, minutes=rest)
