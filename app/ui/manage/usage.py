"""Energy the site's chargers delivered, from their signed receipts: per day, per charger."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.services.energy import energy_use
from app.ui import i18n, live
from app.ui.i18n import N_, _
from app.ui.manage import console
from app.ui.manage.console import Console

PATH = "/manage/usage"
DAY_CHOICES = {7: N_("7 days"), 14: N_("14 days"), 30: N_("30 days"), 90: N_("90 days")}


async def page(request: Request) -> RedirectResponse | None:
    return await console.serve(request, PATH, show)


async def show(view: Console) -> None:
    charts = UsageCharts(view)
    with ui.row().classes("items-end gap-4"):
        view.site_choice(on_change=charts.show.refresh)
        charts.days = ui.select(
            i18n.choices(DAY_CHOICES), label=_("Last"), value=14, on_change=charts.show.refresh
        )
    topics = [f"site:{site.id}" for site in view.sites]  # a receipt completes a request
    await live.follow(view.services, topics, lambda events: charts.show.refresh())
    await charts.show()


class UsageCharts:
    def __init__(self, view: Console) -> None:
        self.view = view
        self.days: ui.select | None = None

    @ui.refreshable_method
    async def show(self) -> None:
        site = self.view.site
        days = int(self.days.value) if self.days and self.days.value else 14
        today = self.view.services.clock().astimezone(ZoneInfo(site.timezone)).date()
        first_day: date = today - timedelta(days=days - 1)
        use = await energy_use(self.view.services, self.view.manager, site.id, first_day, days)
        ui.label(
            _("Energy in kWh by the day each session started, {zone} calendar.").format(
                zone=site.timezone
            )
        ).classes("text-sm")
        per_day = [
            {
                "type": "bar",
                "stack": "energy",
                "name": device.name,
                "data": [round(wh / 1000, 3) for wh in use.wh[device.id]],
            }
            for device in use.devices
        ]
        ui.echart(
            {
                "title": {"text": _("Energy per day")},
                "tooltip": {"trigger": "axis"},
                "legend": {"top": 32},
                "grid": {"top": 72},
                "xAxis": {"type": "category", "data": [d.isoformat() for d in use.days]},
                "yAxis": {"type": "value", "name": "kWh"},
                "series": per_day,
            }
        ).classes("w-full h-80").mark("energy-per-day")
        totals = [round(sum(use.wh[device.id]) / 1000, 3) for device in use.devices]
        ui.echart(
            {
                "title": {"text": _("Energy per charger")},
                "tooltip": {},
                "xAxis": {"type": "category", "data": [device.name for device in use.devices]},
                "yAxis": {"type": "value", "name": "kWh"},
                "series": [{"type": "bar", "name": _("Energy"), "data": totals}],
            }
        ).classes("w-full h-64").mark("energy-per-charger")
