"""The driver's past charging sessions, with the energy each one delivered."""

from nicegui import ui

from app.domain.model import User
from app.services.container import Services
from app.services.history import charging_history
from app.ui.i18n import N_, _
from app.ui.live import Newest
from app.ui.words import moment

STOP_WORDS = {
    "window_end": N_("the window ended"),
    "energy_limit": N_("the permit's energy was used up"),
    "battery_full": N_("the battery was full"),
    "user_stop": N_("stopped from the phone"),
    "revoked": N_("the permit was withdrawn"),
    "unplugged": N_("the vehicle was unplugged"),
}


class History:
    def __init__(self, services: Services, user: User, zones: dict[str, str]) -> None:
        """`zones`: each charger's site time zone, by device id."""
        self.services, self.user, self.zones = services, user, zones
        self.newest = Newest()

    @ui.refreshable_method
    async def show(self) -> None:
        turn = self.newest.turn()
        sessions = await charging_history(self.services, self.user)
        if not self.newest.may_draw(turn) or not sessions:
            return
        with ui.column().classes("w-full gap-1").mark("history"):
            ui.label(_("History")).classes("text-lg")
            for session in sessions:
                with ui.card().classes("w-full").mark(f"session-{session.request_id}"):
                    ui.label(
                        _("{charger} · {kwh} kWh").format(
                            charger=session.device_name, kwh=f"{session.energy_wh / 1000:.2f}"
                        )
                    )
                    zone = self.zones.get(session.device_id, "UTC")
                    ui.label(moment(session.started_at, zone)).classes("text-sm")
                    why = _(STOP_WORDS.get(session.stop_reason, session.stop_reason))
                    ui.label(_("Ended: {why}").format(why=why)).classes("text-sm")
