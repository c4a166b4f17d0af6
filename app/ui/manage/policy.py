"""A site's policy: the manager changes it here; the next request is judged by it."""

from datetime import time, timedelta

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.domain.model import Reason
from app.services.errors import ServiceError
from app.services.policy import PolicyRefused, clock_time, update_site_policy
from app.ui.i18n import _
from app.ui.manage import console
from app.ui.manage.console import Console
from app.ui.words import error_words, reason_words

PATH = "/manage/policy"
NOT_WHOLE = Reason("not_a_whole_number", "Durations, days and counts are whole numbers.")


async def page(request: Request) -> RedirectResponse | None:
    return await console.serve(request, PATH, show)


async def show(view: Console) -> None:
    form = PolicyForm(view)
    view.site_choice(on_change=form.show.refresh)
    await form.show()


class PolicyForm:
    def __init__(self, view: Console) -> None:
        self.view = view

    @ui.refreshable_method
    async def show(self) -> None:
        site, policy = self.view.site, self.view.site.policy
        with ui.card().classes("w-full max-w-xl"):
            ui.label(_("Policy of {site}").format(site=site.name)).classes("text-lg")
            ui.label(
                _("Times are {zone} time. Leave both empty: open around the clock.").format(
                    zone=site.timezone
                )
            )
            with ui.row():
                opens = ui.input(_("Opens at"), value=_hh_mm(policy.opens_at)).props('hint="HH:MM"')
                closes = ui.input(_("Closes at"), value=_hh_mm(policy.closes_at))
                closes.props('hint="HH:MM"')
            longest = ui.number(
                _("Maximum duration (minutes)"), value=_minutes(policy.max_duration)
            )
            auto = ui.number(
                _("Automatic approval up to (minutes)"), value=_minutes(policy.auto_approve_up_to)
            )
            horizon = ui.number(_("Booking horizon (days)"), value=policy.booking_horizon.days)
            open_requests = ui.number(_("Open requests per driver"), value=policy.max_open_requests)
            refusals = ui.column().mark("policy-refusals")

            async def save() -> None:
                refusals.clear()
                numbers = [_whole(n.value) for n in (longest, auto, horizon, open_requests)]
                try:
                    if any(n is None for n in numbers):
                        raise PolicyRefused([NOT_WHOLE])
                    minutes, auto_minutes, days, count = (int(n or 0) for n in numbers)
                    if not await self.view.still_signed_in():
                        return
                    updated = await update_site_policy(
                        self.view.services,
                        self.view.manager,
                        site.id,
                        opens_at=clock_time(opens.value),
                        closes_at=clock_time(closes.value),
                        max_duration=timedelta(minutes=minutes),
                        auto_approve_up_to=timedelta(minutes=auto_minutes),
                        booking_horizon=timedelta(days=days),
                        max_open_requests=count,
                    )
                except PolicyRefused as refused:
                    with refusals:
                        ui.label(_("Not saved:")).classes("text-negative font-bold")
                        for reason in refused.reasons:
                            ui.label(reason_words(reason)).classes("text-negative")
                    return
                except ServiceError as err:
                    with refusals:
                        ui.label(_("Not saved: {error}").format(error=error_words(err))).classes(
                            "text-negative"
                        )
                    return
                self.view.sites = [updated if s.id == updated.id else s for s in self.view.sites]
                ui.notify(
                    _("Saved: the policy of {site} applies from the next request.").format(
                        site=updated.name
                    )
                )

            ui.button(_("Save"), on_click=save)


def _hh_mm(moment: time | None) -> str:
    return moment.strftime("%H:%M") if moment else ""


def _minutes(duration: timedelta) -> int:
    return duration // timedelta(minutes=1)


def _whole(value: float | None) -> float | None:
    """A whole number the field holds, or None (empty, a fraction, or absurdly large)."""
    if value is None or value != int(value) or abs(value) > 10**9:
        return None
    return value
