"""A site's chargers on a time axis: every approved and waiting slot, live.

The axis shows the site's wall-clock time whatever the browser's zone: each time is sent
as the site's local time written as if it were UTC, and the chart reads it as UTC.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.domain.model import Status, UsageRequest
from app.services.timeline import site_timeline
from app.ui import i18n, live
from app.ui.i18n import N_, _
from app.ui.manage import console
from app.ui.manage.console import Console

PATH = "/manage/timeline"
DAY_CHOICES = {1: N_("1 day"), 3: N_("3 days"), 7: N_("7 days"), 14: N_("14 days")}
APPROVED = N_("Approved")
WAITING = N_("Waiting for a manager")
HELD = N_("Withdrawn, slot still held")  # its permit may still work on the charger
SERIES = {APPROVED: "#21ba45", WAITING: "#f2c037", HELD: "#9e9e9e"}  # name: colour


def series_of(request: UsageRequest) -> str:
    """The series' English name (its key in SERIES); the chart shows it translated."""
    if request.status is Status.APPROVED:
        return APPROVED
    if request.status is Status.NEEDS_MANAGER:
        return WAITING
    return HELD


# Draws [charger index, start, end] as a bar in the charger's row.
RENDER_SLOT = """(params, api) => {
  const row = api.value(0);
  const start = api.coord([api.value(1), row]);
  const end = api.coord([api.value(2), row]);
  const height = api.size([0, 1])[1] * 0.6;
  return {type: 'rect', shape: {x: start[0], y: start[1] - height / 2,
          width: Math.max(end[0] - start[0], 1), height: height}, style: api.style()};
}"""


async def page(request: Request) -> RedirectResponse | None:
    return await console.serve(request, PATH, show)


async def show(view: Console) -> None:
    chart = TimelineChart(view)
    with ui.row().classes("items-end gap-4"):
        view.site_choice(on_change=chart.site_changed)
        chart.day_input = ui.input(_("First day"), on_change=chart.show.refresh)
        chart.day_input.props('hint="YYYY-MM-DD"').classes("w-36")
        chart.days = ui.select(
            i18n.choices(DAY_CHOICES), label=_("Days"), value=1, on_change=chart.show.refresh
        )
    chart.site_changed(refresh=False)
    topics = [f"site:{site.id}" for site in view.sites]
    await live.follow(view.services, topics, lambda events: chart.show.refresh())
    await chart.show()


class TimelineChart:
    def __init__(self, view: Console) -> None:
        self.view = view
        self.day_input: ui.input | None = None
        self.days: ui.select | None = None

    def site_changed(self, refresh: bool = True) -> None:
        """Start from the site's today."""
        today = self.view.services.clock().astimezone(ZoneInfo(self.view.site.timezone)).date()
        if self.day_input is not None:
            self.day_input.set_value(today.isoformat())  # its change refreshes the chart
        if refresh:
            self.show.refresh()

    @ui.refreshable_method
    async def show(self) -> None:
        try:
            first_day = date.fromisoformat((self.day_input.value if self.day_input else "") or "")
        except ValueError:
            ui.label(_("Write the first day as YYYY-MM-DD.")).classes("text-negative")
            return
        days = int(self.days.value) if self.days and self.days.value else 1
        timeline = await site_timeline(
            self.view.services, self.view.manager, self.view.site.id, first_day, days
        )
        zone = ZoneInfo(timeline.site.timezone)
        rows = {device.id: index for index, device in enumerate(timeline.devices)}
        series = []
        for name, colour in SERIES.items():
            data = [
                {
                    "name": _("{driver} · {charger} · request {id}").format(
                        driver=slot.driver_name, charger=slot.device_name, id=slot.request.id
                    ),
                    "value": [
                        rows[slot.request.device_id],
                        wall_ms(slot.request.slot.starts_at, zone),
                        wall_ms(slot.request.slot.ends_at, zone),
                    ],
                    "request_id": slot.request.id,
                }
                for slot in timeline.slots
                if series_of(slot.request) == name and slot.request.device_id in rows
            ]
            series.append(
                {
                    "type": "custom",
                    "name": _(name),
                    "itemStyle": {"color": colour},
                    ":renderItem": RENDER_SLOT,
                    "encode": {"x": [1, 2], "y": 0},
                    "clip": True,
                    "data": data,
                }
            )
        ui.label(_("Times in {zone} time.").format(zone=timeline.site.timezone)).classes("text-sm")
        height = 80 + 48 * max(1, len(timeline.devices))
        ui.echart(
            {
                "useUTC": True,  # the values are the site's wall clock (see the module doc)
                "tooltip": {"formatter": "{b}"},
                "legend": {"top": 0},
                "grid": {"left": 100, "right": 20, "top": 40, "bottom": 30},
                "xAxis": {
                    "type": "time",
                    "min": wall_ms(timeline.window.starts_at, zone),
                    "max": wall_ms(timeline.window.ends_at, zone),
                    "name": timeline.site.timezone,
                },
                "yAxis": {"type": "category", "data": [d.name for d in timeline.devices]},
                "series": series,
            }
        ).classes("w-full").style(f"height: {height}px").mark("timeline")


def wall_ms(moment: datetime, zone: ZoneInfo) -> int:
    """The site's wall-clock time of `moment`, as epoch milliseconds of that time in UTC."""
    local = moment.astimezone(zone).replace(tzinfo=None)
    return int((local - datetime(1970, 1, 1)) / timedelta(milliseconds=1))
