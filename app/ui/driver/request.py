"""The driver app's first page: ask for a slot, then watch the request's status live."""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.domain.model import User
from app.services.bookable import Bookable, bookable_devices
from app.services.container import Services
from app.services.events import Event
from app.services.usage import request_usage
from app.ui import live, sessions, sign_in, theme
from app.ui.driver import charger_link
from app.ui.driver.day_plan import DayPlan
from app.ui.driver.history import History
from app.ui.driver.my_requests import MyRequests
from app.ui.driver.sync import SyncCard
from app.ui.i18n import _
from app.ui.scope import services_of
from app.ui.words import duration_words, reason_words, status_words

STEP = timedelta(minutes=30)


async def page(request: Request) -> RedirectResponse | None:
    services = services_of(request)
    user = await sessions.signed_in(services)
    if user is None:
        return sign_in.redirect(request)
    ui.query("body").classes("bg-grey-1")
    charger_link.load_scripts()
    with theme.frame(_("Charging"), services, user, phone=True):
        ui.link(_("Wallet: your permits, also offline"), "/app/wallet").mark("wallet-link")
        choices = await bookable_devices(services, user)
        if not choices:
            ui.label(_("None of your sites has a charger you can book yet."))
            return None
        mine = MyRequests(services, user, choices)
        history = History(services, user, {c.device.id: c.timezone for c in choices})

        day_plan = DayPlan(services, user)

        def on_events(events: list[Event]) -> None:
            day_plan.show.refresh()  # anyone's booking may take or free a slot
            if any(event.user_id == user.id for event in events):
                mine.show.refresh()
                history.show.refresh()  # a receipt completes a request

        # Listen before the first load, so nothing decided in between goes unseen. The
        # site topics carry every driver's events; the list reacts to its driver's only.
        sites = sorted({choice.device.site_id for choice in choices})
        await live.follow(services, [f"site:{site_id}" for site_id in sites], on_events)
        form = RequestForm(services, user, choices, day_plan, on_sent=mine.show.refresh)
        with form.day_plan_place:
            await day_plan.show()
        await mine.show()
        SyncCard(services, user, [choice.device for choice in choices], history.show.refresh)
        await history.show()
    return None


class RequestForm:
    def __init__(
        self,
        services: Services,
        user: User,
        choices: list[Bookable],
        day_plan: DayPlan,
        on_sent: Callable[[], object],
    ) -> None:
        self.services, self.user, self.on_sent = services, user, on_sent
        self.day_plan = day_plan
        self.choices = {choice.device.id: choice for choice in choices}
        first = choices[0]
        with ui.card().classes("w-full"):
            self.charger = ui.select(
                {c.device.id: f"{c.device.name} · {c.site_name}" for c in choices},
                label=_("Charger"),
                value=first.device.id,
                on_change=self._charger_changed,
            ).classes("w-full")
            start = _next_step(services.clock(), first.timezone)
            self.date = ui.input(
                _("Date"), value=start.strftime("%Y-%m-%d"), on_change=self._show_day
            )
            self.date.props('hint="YYYY-MM-DD" inputmode=numeric').classes("w-full")
            self.day_plan_place = ui.element()  # the page fills it: the plan loads async
            self.start = ui.input(_("Start time"), value=start.strftime("%H:%M"))
            self.start.props("inputmode=numeric").classes("w-full")
            self.duration = ui.select({}, label=_("Duration")).classes("w-full")
            ui.button(_("Request"), on_click=self._send).classes("w-full")
            self.refusals = ui.column().mark("refusals")
        self._charger_changed()

    def _charger_changed(self) -> None:
        choice = self.choices[self.charger.value]
        hint = _("HH:MM, {zone} time").format(zone=choice.timezone)
        self.start.props(f"hint={json.dumps(hint)}")
        steps = int(choice.max_duration / STEP)
        options = {n * 30: duration_words(n * STEP) for n in range(1, steps + 1)}
        self.duration.set_options(options, value=60 if 60 in options else 30)
        self._show_day()

    def _show_day(self) -> None:
        self.day_plan.show_for(self.choices[self.charger.value], self.date.value)

    async def _send(self) -> None:
        self.refusals.clear()
        choice = self.choices[self.charger.value]
        starts_at = _parse(self.date.value, self.start.value, choice.timezone)
        if starts_at is None:
            self._refuse([_("Write the date as YYYY-MM-DD and the start time as HH:MM.")])
            return
        if self.duration.value is None:
            self._refuse([_("Choose a duration.")])
            return
        if await sessions.signed_in(self.services) is None:
            sign_in.again()
            return
        duration = timedelta(minutes=int(self.duration.value))
        asked = await request_usage(self.services, self.user, choice.device.id, starts_at, duration)
        if asked.request is None:
            self._refuse([reason_words(reason) for reason in asked.decision.reasons])
            return
        ui.notify(status_words(asked.request.status))
        self.on_sent()

    def _refuse(self, reasons: list[str]) -> None:
        with self.refusals:
            ui.label(_("Not requested:")).classes("text-negative font-bold")
            for reason in reasons:
                ui.label(reason).classes("text-negative")


def _next_step(now: datetime, timezone: str) -> datetime:
    """The next half hour in the site's zone: a start the rules will not find past."""
    local = now.astimezone(ZoneInfo(timezone)).replace(second=0, microsecond=0)
    return local + timedelta(minutes=30 - local.minute % 30)


def _parse(day: str, clock: str, timezone: str) -> datetime | None:
    try:
        local = datetime.combine(date.fromisoformat(day.strip()), time.fromisoformat(clock.strip()))
    except ValueError:
        return None
    if len(day.strip()) != 10 or len(clock.strip()) != 5:  # YYYY-MM-DD and HH:MM only
        return None
    return local.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)
