"""The driver app's first page: ask for a slot, then watch the request's status live."""

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.domain.model import Status, User
from app.services.bookable import Bookable, bookable_devices
from app.services.container import Services
from app.services.events import Event
from app.services.queries import list_requests
from app.services.usage import request_usage
from app.ui import live, sessions, sign_in, theme
from app.ui.driver.permit import show_permit
from app.ui.scope import services_of
from app.ui.words import duration_words, slot_words, status_words

STEP = timedelta(minutes=30)
SHOWN_REQUESTS = 5


async def page(request: Request) -> RedirectResponse | None:
    services = services_of(request)
    user = await sessions.signed_in(services)
    if user is None:
        return sign_in.redirect("/app")
    ui.query("body").classes("bg-grey-1")
    with theme.frame("Charging", services, user, phone=True):
        choices = await bookable_devices(services, user)
        if not choices:
            ui.label("None of your sites has a charger you can book yet.")
            return None
        mine = MyRequests(services, user, choices)

        def on_events(events: list[Event]) -> None:
            if any(event.user_id == user.id for event in events):
                mine.show.refresh()

        # Listen before the first load, so nothing decided in between goes unseen. The
        # site topics carry every driver's events; the page reacts to its driver's only.
        sites = sorted({choice.device.site_id for choice in choices})
        await live.follow(services, [f"site:{site_id}" for site_id in sites], on_events)
        RequestForm(services, user, choices, on_sent=mine.show.refresh)
        await mine.show()
    return None


class RequestForm:
    def __init__(
        self, services: Services, user: User, choices: list[Bookable], on_sent: Callable[[], object]
    ) -> None:
        self.services, self.user, self.on_sent = services, user, on_sent
        self.choices = {choice.device.id: choice for choice in choices}
        first = choices[0]
        with ui.card().classes("w-full"):
            self.charger = ui.select(
                {c.device.id: f"{c.device.name} · {c.site_name}" for c in choices},
                label="Charger",
                value=first.device.id,
                on_change=self._charger_changed,
            ).classes("w-full")
            start = _next_step(services.clock(), first.timezone)
            self.date = ui.input("Date", value=start.strftime("%Y-%m-%d"))
            self.date.props('hint="YYYY-MM-DD" inputmode=numeric').classes("w-full")
            self.start = ui.input("Start time", value=start.strftime("%H:%M"))
            self.start.props("inputmode=numeric").classes("w-full")
            self.duration = ui.select({}, label="Duration").classes("w-full")
            ui.button("Request", on_click=self._send).classes("w-full")
            self.refusals = ui.column().mark("refusals")
        self._charger_changed()

    def _charger_changed(self) -> None:
        choice = self.choices[self.charger.value]
        self.start.props(f'hint="HH:MM, {choice.timezone} time"')
        steps = int(choice.max_duration / STEP)
        options = {n * 30: duration_words(n * STEP) for n in range(1, steps + 1)}
        self.duration.set_options(options, value=60 if 60 in options else 30)

    async def _send(self) -> None:
        self.refusals.clear()
        choice = self.choices[self.charger.value]
        starts_at = _parse(self.date.value, self.start.value, choice.timezone)
        if starts_at is None:
            self._refuse(["Write the date as YYYY-MM-DD and the start time as HH:MM."])
            return
        if self.duration.value is None:
            self._refuse(["Choose a duration."])
            return
        if await sessions.signed_in(self.services) is None:
            ui.navigate.to("/sign-in?next=/app")
            return
        duration = timedelta(minutes=int(self.duration.value))
        asked = await request_usage(self.services, self.user, choice.device.id, starts_at, duration)
        if asked.request is None:
            self._refuse([reason.message for reason in asked.decision.reasons])
            return
        ui.notify(status_words(asked.request.status))
        self.on_sent()

    def _refuse(self, reasons: list[str]) -> None:
        with self.refusals:
            ui.label("Not requested:").classes("text-negative font-bold")
            for reason in reasons:
                ui.label(reason).classes("text-negative")


class MyRequests:
    """The driver's newest requests, each with its status in words and, once approved, its
    permit."""

    def __init__(self, services: Services, user: User, choices: list[Bookable]) -> None:
        self.services, self.user = services, user
        self.choices = {choice.device.id: choice for choice in choices}

    @ui.refreshable_method
    async def show(self) -> None:
        page = await list_requests(
            self.services, self.user, status=None, first=SHOWN_REQUESTS, after_id=None
        )
        if page.requests:
            ui.label("Your requests").classes("text-lg")
        for request in page.requests:
            choice = self.choices.get(request.device_id)
            timezone = choice.timezone if choice else "UTC"
            with ui.card().classes("w-full").mark(f"request-{request.id}"):
                ui.label(choice.device.name if choice else request.device_id).classes("font-bold")
                ui.label(slot_words(request.slot, timezone))
                ui.label(status_words(request.status)).classes("text-lg").mark("status")
                if request.status is Status.NEEDS_MANAGER:
                    for reason in request.reasons:
                        ui.label(reason.message).classes("text-sm")
                if request.status is Status.REJECTED and request.note:
                    ui.label(f"Reason: {request.note}")
                if request.status is Status.APPROVED:
                    await show_permit(self.services, self.user, request, timezone)


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
