"""Every request of a site: filtered, paged on the server, revocable, exportable as CSV."""

import csv
import html
import io
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui
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
from app.ui.i18n import N_, _
from app.ui.manage import console
from app.ui.manage.console import Console
from app.ui.manage.paged_table import PagedTable
from app.ui.words import STATUS_WORDS, error_words, slot_words, status_words

PATH = "/manage/requests"
PAGE_SIZE = 20
ALL = ""  # the filters' "any" choice
COLUMNS = [
    {"name": "id", "label": N_("Id"), "field": "id", "align": "left"},
    {"name": "driver", "label": N_("Driver"), "field": "driver", "align": "left"},
    {"name": "charger", "label": N_("Charger"), "field": "charger", "align": "left"},
    {"name": "slot", "label": N_("Slot"), "field": "slot", "align": "left"},
    {"name": "status", "label": N_("Status"), "field": "status", "align": "left"},
    {"name": "energy", "label": N_("Energy (kWh)"), "field": "energy"},
    {"name": "action", "label": "", "field": "id"},
]
# The button's word comes from the catalog (the slot template is per page: see `filters`).
REVOKE_BUTTON = """
<q-td :props="props">
  <q-btn v-if="props.row.revocable" dense flat color="negative" label="{label}"
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
    await live.follow(view.services, topics, lambda events: requests.load())


class RequestsTable(PagedTable[RequestQuery]):
    page_size = PAGE_SIZE

    def __init__(self, view: Console) -> None:
        super().__init__(view, RequestQuery(view.site.id))

    @ui.refreshable_method
    async def filters(self) -> None:
        """The filters and the table for the chosen site."""
        site = self.view.site
        self.query = RequestQuery(site.id)
        devices = await list_devices(self.view.services, self.view.manager)
        people = await people_of_site(self.view.services, self.view.manager, site.id)
        with ui.row().classes("items-end gap-4"):
            ui.select(
                {ALL: _("Any status"), **{s.value: _(w) for s, w in STATUS_WORDS.items()}},
                label=_("Status"),
                value=ALL,
                on_change=lambda e: self._filter(status=e.value or None),
            ).classes("w-48")
            ui.select(
                {ALL: _("Any charger"), **{d.id: d.name for d in devices if d.site_id == site.id}},
                label=_("Charger"),
                value=ALL,
                on_change=lambda e: self._filter(device_id=e.value or None),
            ).classes("w-40")
            ui.select(
                {ALL: _("Any driver"), **{p.id: p.display_name for p in people}},
                label=_("Driver"),
                value=ALL,
                on_change=lambda e: self._filter(driver_id=e.value or None),
            ).classes("w-40")
            self.day_inputs()
            ui.button(_("Export CSV"), on_click=self._export).props("outline")
        self.problem_label()
        ui.label(_("Slots in {zone} time.").format(zone=site.timezone)).classes("text-sm")
        table = self.make_table(COLUMNS, "requests")
        table.add_slot(
            "body-cell-action", REVOKE_BUTTON.replace("{label}", html.escape(_("Revoke")))
        )
        table.on("revoke", lambda e: self._ask_reason(e.args))
        await self.load()

    async def fetch(self, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        found = await find_requests(
            self.view.services, self.view.manager, self.query, offset=offset, limit=limit
        )
        return [_row(item, found.site.timezone) for item in found.rows], found.total

    async def _export(self) -> None:
        found = await all_requests(self.view.services, self.view.manager, self.query)
        if found.total > len(found.rows):
            ui.notify(
                _("Only the newest {count} rows are exported.").format(count=MAX_EXPORT),
                type="warning",
            )
        ui.download.content(
            to_csv(found.rows, found.site.timezone), f"requests-{found.site.id}.csv", "text/csv"
        )

    def _ask_reason(self, row: Any) -> None:
        request_id = str(row.get("id")) if isinstance(row, dict) else ""
        permit_id = row.get("permit_id") if isinstance(row, dict) else None
        with ui.dialog() as dialog, ui.card():
            ui.label(_("Revoke request {id}?").format(id=request_id))
            ui.label(_("An issued permit goes on the charger's revocation list."))
            reason = ui.textarea(_("Reason")).props("maxlength=500 autofocus")

            def close() -> None:  # gone, not hidden: the next row asks anew
                dialog.close()
                dialog.delete()

            async def confirm() -> None:
                if not (reason.value or "").strip():
                    ui.notify(_("Say why, so the driver knows."), type="warning")
                    return
                dialog.close()
                # Deleted only afterwards: what runs inside its handler (the toast saying it is
                # done) needs the page the dialog belongs to.
                if await self.view.still_signed_in():
                    await self._revoke(request_id, permit_id, reason.value.strip())
                dialog.delete()

            with ui.row():
                ui.button(_("Revoke"), on_click=confirm).props("color=negative").mark(
                    "confirm-revoke"
                )
                ui.button(_("Cancel"), on_click=close).props("flat")
        dialog.open()

    async def _revoke(self, request_id: str, permit_id: str | None, reason: str) -> None:
        services, manager = self.view.services, self.view.manager
        try:
            if permit_id:
                await revoke_permit(services, manager, permit_id, reason)
            else:  # approved, its permit not issued yet
                await revoke(services, manager, request_id, reason)
        except (ServiceError, InvalidTransition) as err:
            ui.notify(_("Not revoked: {error}").format(error=error_words(err)), type="warning")
            return
        ui.notify(_("Revoked request {id}.").format(id=request_id))
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
