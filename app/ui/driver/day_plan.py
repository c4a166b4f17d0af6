"""Before sending: which times of the chosen day the chosen charger is already taken."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from nicegui import ui

from app.domain.model import Slot, User
from app.services.bookable import Bookable
from app.services.container import Services
from app.services.devices import availability
from app.services.errors import ServiceError
from app.ui.i18n import _
from app.ui.live import Newest


class DayPlan:
    def __init__(self, services: Services, user: User) -> None:
        self.services, self.user = services, user
        self.choice: Bookable | None = None
        self.day: date | None = None
        self.newest = Newest()

    def show_for(self, choice: Bookable, day_text: str) -> None:
        self.choice = choice
        try:
            self.day = date.fromisoformat(day_text.strip()) if len(day_text.strip()) == 10 else None
        except ValueError:
            self.day = None
        self.show.refresh()

    @ui.refreshable_method
    async def show(self) -> None:
        if self.choice is None or self.day is None:
            return
        turn = self.newest.turn()
        zone = ZoneInfo(self.choice.timezone)
        start = datetime.combine(self.day, time(), tzinfo=zone)
        end = datetime.combine(self.day + timedelta(days=1), time(), tzinfo=zone)
        try:
            found = await availability(self.services, self.user, self.choice.device.id, start, end)
        except ServiceError:
            return
        if not self.newest.may_draw(turn):
            return  # the charger or day changed meanwhile: a newer refresh draws
        with ui.column().classes("gap-0").mark("day-plan"):
            if not found.taken:
                ui.label(
                    _("{charger} is free all that day.").format(charger=self.choice.device.name)
                ).classes("text-sm")
                return
            ui.label(
                _("{charger} is taken that day:").format(charger=self.choice.device.name)
            ).classes("text-sm")
            for slot in found.taken:
                ui.label(_hours(slot, zone, start, end)).classes("text-sm")


def _hours(slot: Slot, zone: ZoneInfo, day_start: datetime, day_end: datetime) -> str:
    """'09:30–11:00', clipped to the day: a slot from the evening before starts at 00:00."""
    starts = max(slot.starts_at, day_start).astimezone(zone)
    ends = min(slot.ends_at, day_end).astimezone(zone)
    until = "24:00" if ends >= day_end else f"{ends:%H:%M}"
    return f"{starts:%H:%M}–{until}"
