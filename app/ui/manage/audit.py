"""The audit log of the manager's site: who did what when, filtered, paged on the server."""

from dataclasses import replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import events, ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.services.audit_trail import ACTIONS, SERVER, AuditEntry, AuditQuery, audit_trail
from app.services.sites import people_of_site
from app.ui.manage import console
from app.ui.manage.console import Console
from app.ui.words import moment

PATH = "/manage/audit"
PAGE_SIZE = 25
ANY = ""
COLUMNS = [
    {"name": "at", "label": "When", "field": "at", "align": "left"},
    {"name": "actor", "label": "Who", "field": "actor", "align": "left"},
    {"name": "action", "label": "What", "field": "action", "align": "left"},
    {"name": "entity", "label": "Which", "field": "entity", "align": "left"},
    {
        "name": "change",
        "label": "Change",
        "field": "change",
        "align": "left",
        "style": "white-space: normal; min-width: 20rem",
    },
]
ENTITY_WORDS = {"usage_request": "request", "device": "charger", "permit": "permit"}


async def page(request: Request) -> RedirectResponse | None:
    return await console.serve(request, PATH, show)


async def show(view: Console) -> None:
    log = AuditTable(view)
    view.site_choice(on_change=log.filters.refresh)
    await log.filters()


class AuditTable:
    def __init__(self, view: Console) -> None:
        self.view = view
        self.query = AuditQuery(view.site.id)
        self.table: ui.table | None = None
        self.problem: ui.label | None = None

    @ui.refreshable_method
    async def filters(self) -> None:
        site = self.view.site
        self.query = AuditQuery(site.id)
        people = await people_of_site(self.view.services, self.view.manager, site.id)
        with ui.row().classes("items-end gap-4"):
            ui.select(
                {ANY: "Anyone", SERVER: "The server", **{p.id: p.display_name for p in people}},
                label="Who",
                value=ANY,
                on_change=lambda e: self._filter(actor_id=e.value or None),
            ).classes("w-44")
            ui.select(
                {ANY: "Any action", **ACTIONS},
                label="What",
                value=ANY,
                on_change=lambda e: self._filter(action=e.value or None),
            ).classes("w-56")
            first = ui.input("From", on_change=lambda e: self._days(first_day=e.value))
            first.props('hint="YYYY-MM-DD" clearable').classes("w-36")
            last = ui.input("To", on_change=lambda e: self._days(last_day=e.value))
            last.props('hint="YYYY-MM-DD" clearable').classes("w-36")
        self.problem = ui.label("").classes("text-negative").mark("filter-problem")
        pagination = {"page": 1, "rowsPerPage": PAGE_SIZE, "rowsNumber": 0}
        self.table = ui.table(rows=[], columns=COLUMNS, row_key="id", pagination=pagination)
        self.table.classes("w-full").mark("audit")
        self.table.on("request", self._page_asked)
        await self.load()

    async def load(self, page: int | None = None) -> None:
        if self.table is None:
            return
        pagination = dict(self.table.pagination)
        page = page or int(pagination.get("page", 1))
        size = int(pagination.get("rowsPerPage", PAGE_SIZE)) or PAGE_SIZE
        found = await audit_trail(
            self.view.services,
            self.view.manager,
            self.query,
            offset=(page - 1) * size,
            limit=size,
        )
        self.table.rows = [_row(entry, found.site.timezone) for entry in found.entries]
        self.table.pagination = {
            **pagination,
            "page": page,
            "rowsPerPage": size,
            "rowsNumber": found.total,
        }

    async def _page_asked(self, e: events.GenericEventArguments) -> None:
        asked = e.args.get("pagination", {}) if isinstance(e.args, dict) else {}
        if self.table is not None:
            self.table.pagination = {**self.table.pagination, **asked}
        await self.load(int(asked.get("page", 1)))

    async def _filter(self, **changes: Any) -> None:
        self.query = replace(self.query, **changes)
        await self.load(1)

    async def _days(self, **changes: str | None) -> None:
        parsed: dict[str, date | None] = {}
        for key, text in changes.items():
            text = (text or "").strip()
            try:
                parsed[key] = date.fromisoformat(text) if text else None
            except ValueError:
                if self.problem is not None and len(text) >= 10:
                    self.problem.set_text("Write days as YYYY-MM-DD.")
                return
        if self.problem is not None:
            self.problem.set_text("")
        await self._filter(**parsed)


def _row(entry: AuditEntry, timezone: str) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": moment(entry.at, timezone),
        "actor": entry.actor_name or ("The server" if entry.actor_id is None else entry.actor_id),
        "action": ACTIONS.get(entry.action, entry.action),
        "entity": f"{ENTITY_WORDS.get(entry.entity, entry.entity)} {entry.entity_id}",
        "change": change_words(entry.before, entry.after, timezone),
    }


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
