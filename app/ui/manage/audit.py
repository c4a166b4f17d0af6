"""The audit log of the manager's site: who did what when, filtered, paged on the server."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.services.audit_trail import ACTIONS, SERVER, AuditEntry, AuditQuery, audit_trail
from app.services.sites import people_of_site
from app.ui.i18n import N_, _
from app.ui.manage import console
from app.ui.manage.console import Console
from app.ui.manage.paged_table import PagedTable
from app.ui.words import moment

PATH = "/manage/audit"
PAGE_SIZE = 25
ANY = ""
COLUMNS = [
    {"name": "at", "label": N_("When"), "field": "at", "align": "left"},
    {"name": "actor", "label": N_("Who"), "field": "actor", "align": "left"},
    {"name": "action", "label": N_("What"), "field": "action", "align": "left"},
    {"name": "entity", "label": N_("Which"), "field": "entity", "align": "left"},
    {
        "name": "change",
        "label": N_("Change"),
        "field": "change",
        "align": "left",
        "style": "white-space: normal; min-width: 20rem",
    },
]
ENTITY_WORDS = {"usage_request": N_("request"), "device": N_("charger"), "permit": N_("permit")}
# The services' words for each action (app/services/audit_trail.py), here for the catalog.
ACTION_WORDS = {
    "request": N_("Requested"),
    "approve": N_("Approved"),
    "reject": N_("Rejected"),
    "cancel": N_("Cancelled"),
    "revoke": N_("Revoked"),
    "issue_permit": N_("Issued the permit"),
    "expire": N_("Expired"),
    "release_slot": N_("Released a withdrawn slot"),
    "receipt": N_("Receipt in"),
    "register_device": N_("Registered a charger"),
    "update_charger": N_("Edited a charger"),
    "update_site_policy": N_("Changed the site policy"),
}
SERVER_WORDS = N_("The server")


async def page(request: Request) -> RedirectResponse | None:
    return await console.serve(request, PATH, show)


async def show(view: Console) -> None:
    log = AuditTable(view)
    view.site_choice(on_change=log.filters.refresh)
    await log.filters()


class AuditTable(PagedTable[AuditQuery]):
    page_size = PAGE_SIZE

    def __init__(self, view: Console) -> None:
        super().__init__(view, AuditQuery(view.site.id))

    @ui.refreshable_method
    async def filters(self) -> None:
        site = self.view.site
        self.query = AuditQuery(site.id)
        people = await people_of_site(self.view.services, self.view.manager, site.id)
        with ui.row().classes("items-end gap-4"):
            ui.select(
                {
                    ANY: _("Anyone"),
                    SERVER: _(SERVER_WORDS),
                    **{p.id: p.display_name for p in people},
                },
                label=_("Who"),
                value=ANY,
                on_change=lambda e: self._filter(actor_id=e.value or None),
            ).classes("w-44")
            ui.select(
                {ANY: _("Any action"), **{key: _action(key) for key in ACTIONS}},
                label=_("What"),
                value=ANY,
                on_change=lambda e: self._filter(action=e.value or None),
            ).classes("w-56")
            self.day_inputs()
        self.problem_label()
        self.make_table(COLUMNS, "audit")
        await self.load()

    async def fetch(self, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        found = await audit_trail(
            self.view.services, self.view.manager, self.query, offset=offset, limit=limit
        )
        return [_row(entry, found.site.timezone) for entry in found.entries], found.total


def _row(entry: AuditEntry, timezone: str) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": moment(entry.at, timezone),
        "actor": entry.actor_name
        or (_(SERVER_WORDS) if entry.actor_id is None else entry.actor_id),
        "action": _action(entry.action),
        "entity": f"{_(ENTITY_WORDS.get(entry.entity, entry.entity))} {entry.entity_id}",
        "change": change_words(entry.before, entry.after, timezone),
    }


def _action(action: str) -> str:
    return _(ACTION_WORDS.get(action, ACTIONS.get(action, action)))


def change_words(before: dict[str, Any] | None, after: dict[str, Any] | None, timezone: str) -> str:
    """'status: NEEDS_MANAGER → APPROVED': only what changed, briefly; for something new,
    what it was made with. Times in the site's zone."""
    before, after = before or {}, after or {}
    if not before:
        changed = [f"{k}: {_text(v, timezone)}" for k, v in after.items() if v is not None]
    else:
        changed = [
            f"{key}: {_text(before.get(key), timezone)} → {_text(after.get(key), timezone)}"
            for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)
        ]
    words = "; ".join(changed)
    return words if len(words) <= 200 else words[:199] + "…"


def _text(value: Any, timezone: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and "T" in value:
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return value
        if at.tzinfo is not None:
            return f"{at.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M %Z}"
    return str(value)
