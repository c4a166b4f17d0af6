"""The manager's chargers: what each last told the server, and registering a new one.

A charger starts from the server's trust file (`powerpermit-device init --trust FILE`);
`init` (or `prove`) prints its public key and a proof that it holds the private half,
which the form takes as printed, field by field or as the whole JSON line.
"""

import json
from collections.abc import Callable

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.services.chargers import TRUST_FILE_NAME, chargers, trust_file
from app.services.devices import register_device
from app.services.errors import ServiceError
from app.ui import live
from app.ui.manage import console
from app.ui.manage.console import Console
from app.ui.words import moment

PATH = "/manage/chargers"
COLUMNS = [
    {"name": "site", "label": "Site", "field": "site", "align": "left"},
    {"name": "name", "label": "Charger", "field": "name", "align": "left"},
    {"name": "id", "label": "Id", "field": "id", "align": "left"},
    {"name": "last_receipt", "label": "Last receipt", "field": "last_receipt", "align": "left"},
    {"name": "sequence", "label": "Revocation sequence", "field": "sequence"},
    {"name": "key_id", "label": "Key id", "field": "key_id", "align": "left"},
    {"name": "link_url", "label": "Local link URL", "field": "link_url", "align": "left"},
]


async def page(request: Request) -> RedirectResponse | None:
    return await console.serve(request, PATH, show)


async def show(view: Console) -> None:
    listing = ChargerList(view)
    # A receipt's or a revocation's request event may change a charger's line.
    topics = [f"site:{site.id}" for site in view.sites]
    await live.follow(view.services, topics, lambda _: listing.show.refresh())
    await listing.show()
    RegisterForm(view, on_registered=listing.show.refresh)


class ChargerList:
    def __init__(self, view: Console) -> None:
        self.view = view

    @ui.refreshable_method
    async def show(self) -> None:
        rows = [
            {
                "site": c.site_name,
                "name": c.device.name,
                "id": c.device.id,
                "last_receipt": moment(c.last_receipt_at, c.timezone)
                if c.last_receipt_at
                else "none yet",
                "sequence": c.revocation_sequence,
                "key_id": c.key_id or "not commissioned",
                "link_url": c.device.link_url or "",
            }
            for c in await chargers(self.view.services, self.view.manager)
        ]
        ui.table(rows=rows, columns=COLUMNS, row_key="id").classes("w-full").mark("chargers")


class RegisterForm:
    def __init__(self, view: Console, on_registered: Callable[[], object]) -> None:
        self.view, self.on_registered = view, on_registered
        with ui.card().classes("w-full"):
            ui.label("Register a charger").classes("text-lg")
            with ui.row().classes("items-center"):
                ui.label(f"1. Give the charger the server's trust file ({TRUST_FILE_NAME}).")
                ui.button("Download trust file", on_click=self._download).props("outline")
            ui.label(
                "2. On the charger: powerpermit-device init --state DIR --device-id ID "
                f"--trust {TRUST_FILE_NAME} (or prove --state DIR for a fresh proof)."
            )
            ui.label("3. Paste what it printed, or fill in the fields.")
            self.printed = ui.textarea(
                "What powerpermit-device printed", on_change=self._fill_from_printed
            ).classes("w-full")
            self.printed.props("maxlength=2000")  # the JSON line is some 300 characters
            sites = {site.id: site.name for site in view.sites}
            self.site = ui.select(sites, label="Site", value=view.site.id).classes("w-72")
            self.device_id = ui.input("Charger id").props("maxlength=32").classes("w-full")
            self.name = ui.input("Name").props("maxlength=64").classes("w-full")
            self.public_key = ui.input("Public key").props("maxlength=100").classes("w-full")
            self.proof = ui.input("Proof of possession").props("maxlength=1000").classes("w-full")
            self.link_url = ui.input("Local link URL").props("maxlength=255").classes("w-full")
            self.link_url.props(
                'hint="Where drivers\' phones reach the charger, e.g. http://192.168.1.20:8410"'
            )
            ui.button("Register", on_click=self._register)
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
                ("Charger id", self.device_id),
                ("Name", self.name),
                ("Public key", self.public_key),
                ("Proof of possession", self.proof),
            )
            if not (field.value or "").strip()
        ]
        if missing:
            self.error.set_text("Fill in: " + ", ".join(missing) + ".")
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
            self.error.set_text(f"Not registered: {err}")
            return
        ui.notify(f"Registered {device.name} ({device.id}).")
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
