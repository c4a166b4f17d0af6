"""Editing a charger from the console: its name, local-link URL, whether it is in service,
its maximum power. The same service as GraphQL's updateCharger; its refusals in words."""

from collections.abc import Callable

from nicegui import ui

from app.domain.model import Device
from app.services.chargers import MAX_POWER_W, MIN_POWER_W, update_charger
from app.services.errors import ServiceError
from app.ui.i18n import _
from app.ui.manage.console import Console
from app.ui.words import error_words

# The Edit button of each row of the chargers' table: the row says which charger.
EDIT_BUTTON = """
<q-td :props="props">
  <q-btn dense flat color="primary" label="{label}"
         @click="() => $parent.$emit('edit', props.row)" />
</q-td>
"""


def open_editor(view: Console, device: Device, on_saved: Callable[[], object]) -> None:
    """A dialog that exists while it is open: the next row asks anew."""
    with ui.dialog() as dialog, ui.card().classes("w-96").mark("charger-editor"):
        ui.label(_("Edit {charger} ({id})").format(charger=device.name, id=device.id)).classes(
            "text-lg"
        )
        name = ui.input(_("Name"), value=device.name).props("maxlength=64").classes("w-full")
        link_url = ui.input(_("Local link URL"), value=device.link_url or "")
        link_url.props("maxlength=255 clearable").classes("w-full")
        in_service = ui.checkbox(_("In service"), value=device.in_service)
        power = ui.number(
            _("Maximum power (W)"),
            value=device.max_power_w,
            min=MIN_POWER_W,
            max=MAX_POWER_W,
            step=100,
            format="%d",
        ).classes("w-full")
        error = ui.label("").classes("text-negative").mark("edit-error")

        def close() -> None:
            dialog.close()
            dialog.delete()

        async def save() -> None:
            error.set_text("")
            watts = power.value
            if watts is None or watts != int(watts):
                error.set_text(_("Write the maximum power as whole watts."))
                return
            if not await view.still_signed_in():
                return
            try:
                edited = await update_charger(
                    view.services,
                    view.manager,
                    device.id,
                    name=name.value or "",
                    link_url=link_url.value or "",
                    in_service=bool(in_service.value),
                    max_power_w=int(watts),
                )
            except ServiceError as err:
                error.set_text(_("Not saved: {error}").format(error=error_words(err)))
                return
            # Before the dialog goes: what runs in its handler needs the page it belongs to.
            ui.notify(_("Saved {charger} ({id}).").format(charger=edited.name, id=edited.id))
            on_saved()
            close()

        with ui.row():
            ui.button(_("Save"), on_click=save).mark("save-charger")
            ui.button(_("Cancel"), on_click=close).props("flat")
    dialog.open()
