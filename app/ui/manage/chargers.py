"""The manager's chargers: what each last told the server, editing one, registering one.

A charger starts from the server's trust file (`powerpermit-device init --trust FILE`);
`init` (or `prove`) prints its public key and a proof that it holds the private half,
which the form takes as printed, field by field or as the whole JSON line.
"""

import html
import json
from collections.abc import Callable

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.domain.model import Device
from app.services.chargers import TRUST_FILE_NAME, chargers, trust_file
from app.services.devices import register_device
from app.services.errors import ServiceError
from app.ui import i18n, live
from app.ui.i18n import N_, _
from app.ui.manage import charger_edit, console
from app.ui.manage.console import Console
from app.ui.words import error_words, moment

PATH = "/manage/chargers"
CHARGER_ID, NAME, PUBLIC_KEY, PROOF = (
    N_("Charger id"),
    N_("Name"),
    N_("Public key"),
    N_("Proof of possession"),
)
LINK_HINT = N_("Where drivers' phones reach the charger, e.g. http://192.168.1.20:8410")
COLUMNS = [
    {"name": "site", "label": N_("Site"), "field": "site", "align": "left"},
    {"name": "name", "label": N_("Charger"), "field": "name", "align": "left"},
    {"name": "id", "label": N_("Id"), "field": "id", "align": "left"},
    {"name": "last_receipt", "label": N_("Last receipt"), "field": "last_receipt", "align": "left"},
    {"name": "sequence", "label": N_("Revocation sequence"), "field": "sequence"},
    {"name": "key_id", "label": N_("Key id"), "field": "key_id", "align": "left"},
    {"name": "link_url", "label": N_("Local link URL"), "field": "link_url", "align": "left"},
    {"name": "in_service", "label": N_("In service"), "field": "in_service_words"},
    {"name": "max_power", "label": N_("Maximum power (W)"), "field": "max_power_w"},
    {"name": "edit", "label": "", "field": "id"},
]


async def page(request: Request) -> RedirectResponse | None:
    return await console.serve(request, PATH, show)


async def show(view: Console) -> None:
    listing = ChargerList(view)
    # A receipt's or a revocation's request event may change a charger's line.
    topics = [f"site:{site.id}" for site in view.sites]
    await live.follow(view.services, topics, lambda events: listing.show.refresh())
    await listing.show()
    RegisterForm(view, on_registered=listing.show.refresh)


class ChargerList:
    def __init__(self, view: Console) -> None:
        self.view = view
        self.devices: dict[str, Device] = {}  # as listed: what an Edit click may name

    @ui.refreshable_method
    async def show(self) -> None:
        listed = await chargers(self.view.services, self.view.manager)
        self.devices = {c.device.id: c.device for c in listed}
        rows = [
            {
                "site": c.site_name,
                "name": c.device.name,
                "id": c.device.id,
                "last_receipt": moment(c.last_receipt_at, c.timezone)
                if c.last_receipt_at
                else _("none yet"),
                "sequence": c.revocation_sequence,
                "key_id": c.key_id or _("not commissioned"),
                "link_url": c.device.link_url or "",
                "in_service": c.device.in_service,
                "in_service_words": _("yes") if c.device.in_service else _("no"),
                "max_power_w": c.device.max_power_w,
            }
            for c in listed
        ]
        table = ui.table(rows=rows, columns=i18n.columns(COLUMNS), row_key="id")
        table.classes("w-full").mark("chargers")
        label = html.escape(_("Edit"))
        table.add_slot("body-cell-edit", charger_edit.EDIT_BUTTON.replace("{label}", label))
        table.on("edit", lambda e: self._edit(e.args))

    def _edit(self, row: object) -> None:
        """Only a charger this list showed: the row comes from the browser."""
        device = self.devices.get(str(row.get("id"))) if isinstance(row, dict) else None
        if device is not None:
            charger_edit.open_editor(self.view, device, on_saved=self.show.refresh)


class RegisterForm:
    def __init__(self, view: Console, on_registered: Callable[[], object]) -> None:
        self.view, self.on_registered = view, on_registered
        with ui.card().classes("w-full"):
            ui.label(_("Register a charger")).classes("text-lg")
            with ui.row().classes("items-center"):
                ui.label(
                    _("1. Give the charger the server's trust file ({file}).").format(
                        file=TRUST_FILE_NAME
                    )
                )
                ui.button(_("Download trust file"), on_click=self._download).props("outline")
            ui.label(
                _(
                    "2. On the charger: powerpermit-device init --state DIR --device-id ID "
                    "--trust {file} (or prove --state DIR for a fresh proof)."
                ).format(file=TRUST_FILE_NAME)
            )
            ui.label(_("3. Paste what it printed, or fill in the fields."))
            self.printed = ui.textarea(
                _("What powerpermit-device printed"), on_change=self._fill_from_printed
            ).classes("w-full")
            self.printed.props("maxlength=2000")  # the JSON line is some 300 characters
            sites = {site.id: site.name for site in view.sites}
            self.site = ui.select(sites, label=_("Site"), value=view.site.id).classes("w-72")
            self.device_id = ui.input(_(CHARGER_ID)).props("maxlength=32").classes("w-full")
            self.name = ui.input(_(NAME)).props("maxlength=64").classes("w-full")
            self.public_key = ui.input(_(PUBLIC_KEY)).props("maxlength=100").classes("w-full")
            self.proof = ui.input(_(PROOF)).props("maxlength=1000").classes("w-full")
            self.link_url = ui.input(_("Local link URL")).props("maxlength=255").classes("w-full")
            self.link_url.props(f"hint={json.dumps(_(LINK_HINT))}")
            ui.button(_("Register"), on_click=self._register)
            self.error = ui.label("").classes("text-negative").mark("register-error")

    def _download(self) -> None:
        ui.download.content(trust_file(self.view.services), TRUST_FILE_NAME, "application/json")

    def _fill_from_printed(self) -> None:
        try:
            printed = json.loads(self.printed.value or "")
        except ValueError:
            return
        if not isinstance(printed, dict):
            return
        for field, key in (
            (self.device_id, "device_id"),
            (self.public_key, "public_key"),
            (self.proof, "proof"),
        ):
            if isinstance(printed.get(key), str):
                field.set_value(printed[key])

    async def _register(self) -> None:
        self.error.set_text("")
        missing = [
            label
            for label, field in (
                (_(CHARGER_ID), self.device_id),
                (_(NAME), self.name),
                (_(PUBLIC_KEY), self.public_key),
                (_(PROOF), self.proof),
            )
            if not (field.value or "").strip()
        ]
        if missing:
            self.error.set_text(_("Fill in: {fields}.").format(fields=", ".join(missing)))
            return
        if not await self.view.still_signed_in():
            return
        link_url = (self.link_url.value or "").strip() or None
        try:
            device = await register_device(
                self.view.services,
                self.view.manager,
                self.device_id.value.strip(),
                self.name.value,
                self.site.value,
                self.public_key.value.strip(),
                self.proof.value.strip(),
                link_url,
            )
        except ServiceError as err:
            self.error.set_text(_("Not registered: {error}").format(error=error_words(err)))
            return
        ui.notify(_("Registered {name} ({id}).").format(name=device.name, id=device.id))
        for field in (
            self.printed,
            self.device_id,
            self.name,
            self.public_key,
            self.proof,
            self.link_url,
        ):
            field.set_value("")
        self.on_registered()
