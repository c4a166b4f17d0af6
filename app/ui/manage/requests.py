"""Every request of a site: filtered, paged on the server, revocable, exportable as CSV."""

import csv
import io
from dataclasses import replace
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import events, ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.domain.errors import InvalidTransition
from app.domain.model import Status
from app.services.devices import list_devices
from app.services.errors import ServiceError
from app.services.permits import revoke_permit
from app.services.request_search import (
    MAX_EXPORT,
    NamedRequest,
    RequestQuery,
    all_requests,
    find_requests,
)
from app.services.sites import people_of_site
from app.services.usage import revoke
from app.ui import live
from app.ui.manage import console
from app.ui.manage.console import Console
from app.ui.words import STATUS_WORDS, slot_words, status_words

PATH = "/manage/requests"
PAGE_SIZE = 20
ALL = ""  # the filters' "any" choice
COLUMNS = [
    {"name": "id", "label": "Id", "field": "id", "align": "left"},
    {"name": "driver", "label": "Driver", "field": "driver", "align": "left"},
    {"name": "charger", "label": "Charger", "field": "charger", "align": "left"},
    {"name": "slot", "label": "Slot", "field": "slot", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "energy", "label": "Energy (kWh)", "field": "energy"},
    {"name": "action", "label": "", "field": "id"},
]
REVOKE_BUTTON = """
<q-td :props="props">
  <q-btn v-if="props.row.revocable" dense flat color="negative" label="Revoke"
         @click="() => $parent.$emit('revoke', props.row)" />
</q-td>
"""


async def page(request: Request) -> RedirectResponse | None:
    return await console.serve(request, PATH, show)


async def show(view: Console) -> None:
    requests = RequestsTable(view)
    view.site_choice(on_change=requests.filters.refresh)
    await requests.filters()
    topics = [f"site:{site.id}" for site in view.sites]
    await live.follow(view.services, topics, lambda _: requests.load())


class RequestsTable:
    def __init__(self, view: Console) -> None:
        self.view = view
        self.query = RequestQuery(view.site.id)
        self.table: ui.table | None = None
        self.problem: ui.label | None = None

    @ui.refreshable_method
    async def filters(self) -> None:
        """The filters and the table for the chosen site."""
        site = self.view.site
        self.query = RequestQuery(site.id)
        devices = await list_devices(self.view.services, self.view.manager)
        people = await people_of_site(self.view.services, self.view.manager, site.id)
        with ui.row().classes("items-end gap-4"):
            ui.select(
                {ALL: "Any status", **{s.value: w for s, w in STATUS_WORDS.items()}},
                label="Status",
                value=ALL,
                on_change=lambda e: self._filter(status=e.value or None),
            ).classes("w-48")
            ui.select(
                {ALL: "Any charger", **{d.id: d.name for d in devices if d.site_id == site.id}},
                label="Charger",
                value=ALL,
                on_change=lambda e: self._filter(device_id=e.value or None),
            ).classes("w-40")
            ui.select(
                {ALL: "Any driver", **{p.id: p.display_name for p in people}},
                label="Driver",
                value=ALL,
                on_change=lambda e: self._filter(driver_id=e.value or None),
            ).classes("w-40")
            first = ui.input("From", on_change=lambda e: self._days(first_day=e.value))
            first.props('hint="YYYY-MM-DD" clearable').classes("w-36")
            last = ui.input("To", on_change=lambda e: self._days(last_day=e.value))
            last.props('hint="YYYY-MM-DD" clearable').classes("w-36")
            ui.button("Export CSV", on_click=self._export).props("outline")
        self.problem = ui.label("").classes("text-negative").mark("filter-problem")
        ui.label(f"Slots in {site.timezone} time.").classes("text-sm")
        pagination = {"page": 1, "rowsPerPage": PAGE_SIZE, "rowsNumber": 0}
        self.table = ui.table(rows=[], columns=COLUMNS, row_key="id", pagination=pagination)
        self.table.classes("w-full").mark("requests")
        self.table.add_slot("body-cell-action", REVOKE_BUTTON)
        self.table.on("request", self._page_asked)
        self.table.on("revoke", lambda e: self._ask_reason(e.args))
        await self.load()

    async def load(self, page: int | None = None) -> None:
        if self.table is None:
            return
        pagination = dict(self.table.pagination)
        page = page or int(pagination.get("page", 1))
        rows_per_page = int(pagination.get("rowsPerPage", PAGE_SIZE)) or PAGE_SIZE
        found = await find_requests(
            self.view.services,
            self.view.manager,
            self.query,
            offset=(page - 1) * rows_per_page,
            limit=rows_per_page,
        )
        self.table.rows = [_row(item, found.site.timezone) for item in found.rows]
        self.table.pagination = {
            **pagination,
            "page": page,
            "rowsPerPage": rows_per_page,
            "rowsNumber": found.total,
        }

    async def _page_asked(self, e: events.GenericEventArguments) -> None:
        """QTable asks for another page (or page size): the server cuts it."""
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

    async def _export(self) -> None:
        found = await all_requests(self.view.services, self.view.manager, self.query)
        if found.total > len(found.rows):
            ui.notify(f"Only the newest {MAX_EXPORT} rows are exported.", type="warning")
        ui.download.content(
            to_csv(found.rows, found.site.timezone), f"requests-{found.site.id}.csv", "text/csv"
        )

    def _ask_reason(self, row: Any) -> None:
        request_id = str(row.get("id")) if isinstance(row, dict) else ""
        permit_id = row.get("permit_id") if isinstance(row, dict) else None
        with ui.dialog() as dialog, ui.card():
            ui.label(f"Revoke request {request_id}?")
            ui.label("An issued permit goes on the charger's revocation list.")
            reason = ui.textarea("Reason").props("maxlength=500 autofocus")

            def close() -> None:  # gone, not hidden: the next row asks anew
                dialog.close()
                dialog.delete()

            async def confirm() -> None:
                if not (reason.value or "").strip():
                    ui.notify("Say why, so the driver knows.", type="warning")
                    return
                close()
                if await self.view.still_signed_in():
                    await self._revoke(request_id, permit_id, reason.value.strip())

            with ui.row():
                ui.button("Revoke", on_click=confirm).props("color=negative").mark("confirm-revoke")
                ui.button("Cancel", on_click=close).props("flat")
        dialog.open()

    async def _revoke(self, request_id: str, permit_id: str | None, reason: str) -> None:
        services, manager = self.view.services, self.view.manager
        try:
            if permit_id:
                await revoke_permit(services, manager, permit_id, reason)
            else:  # approved, its permit not issued yet
                await revoke(services, manager, request_id, reason)
        except (ServiceError, InvalidTransition) as err:
            ui.notify(f"Not revoked: {err}", type="warning")
            return
        ui.notify(f"Revoked request {request_id}.")
        await self.load()


def _row(item: NamedRequest, timezone: str) -> dict[str, Any]:
    request = item.request
    return {
        "id": request.id,
        "driver": item.driver_name,
        "charger": item.device_name,
        "slot": slot_words(request.slot, timezone),
        "status": status_words(request.status),
        "energy": "" if request.energy_wh is None else f"{request.energy_wh / 1000:.2f}",
        "permit_id": request.permit_id,
        "revocable": request.status is Status.APPROVED,
    }


CSV_COLUMNS = (
    "request_id",
    "status",
    "charger_id",
    "charger",
    "driver",
    "starts_at",
    "ends_at",
    "timezone",
    "energy_wh",
    "permit_id",
    "note",
)


def to_csv(rows: list[NamedRequest], timezone: str) -> bytes:
    """Times in the site's zone with their offset, and the zone named in its own column."""
    zone = ZoneInfo(timezone)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in rows:
        r = item.request
        writer.writerow(
            [
                r.id,
                r.status.value,
                r.device_id,
                _cell(item.device_name),
                _cell(item.driver_name),
                r.slot.starts_at.astimezone(zone).isoformat(),
                r.slot.ends_at.astimezone(zone).isoformat(),
                timezone,
                "" if r.energy_wh is None else r.energy_wh,
                r.permit_id or "",
                _cell(r.note or ""),
            ]
        )
    return out.getvalue().encode()


def _cell(text: str) -> str:
    """Text a spreadsheet would run as a formula is kept text (names and notes are typed
    by people)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
