"""The site's webhooks as integrators set them up through the API, each with its latest
deliveries and how the receiver answered (app/services/webhooks.py, docs/webhooks.md)."""

from typing import Any

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.services.webhooks import Attempt, Delivery, webhooks
from app.ui import i18n
from app.ui.i18n import N_, _
from app.ui.manage import console
from app.ui.manage.console import Console
from app.ui.words import moment

PATH = "/manage/webhooks"
COLUMNS = [
    {"name": "created", "label": N_("When"), "field": "created", "align": "left"},
    {"name": "event", "label": N_("Event"), "field": "event", "align": "left"},
    {"name": "request", "label": N_("Request"), "field": "request", "align": "left"},
    {"name": "status", "label": N_("Status"), "field": "status", "align": "left"},
    {"name": "attempts", "label": N_("Attempts"), "field": "attempts", "align": "right"},
    {"name": "answer", "label": N_("Last answer"), "field": "answer", "align": "left"},
]
STATUS_WORDS = {
    "pending": N_("waiting to be sent"),
    "delivered": N_("delivered"),
    "failed": N_("failed"),
}


async def page(request: Request) -> RedirectResponse | None:
    return await console.serve(request, PATH, show)


async def show(view: Console) -> None:
    hooks = WebhookList(view)
    view.site_choice(on_change=hooks.show.refresh)
    await hooks.show()


class WebhookList:
    def __init__(self, view: Console) -> None:
        self.view = view

    @ui.refreshable_method
    async def show(self) -> None:
        site = self.view.site
        found = await webhooks(self.view.services, self.view.manager, site.id)
        if not found:
            ui.label(_("No webhooks for this site. Integrators add them through the API.")).mark(
                "no-webhooks"
            )
            return
        for hook in found:
            sub = hook.subscription
            with ui.card().classes("w-full").mark(f"webhook-{sub.id}"):
                ui.label(sub.url).classes("font-mono text-sm")
                ui.label(
                    _("Events: {events} · since {when}").format(
                        events=", ".join(sub.events), when=moment(sub.created_at, site.timezone)
                    )
                ).classes("text-sm")
                rows = [_row(d, attempts, site.timezone) for d, attempts in hook.deliveries]
                ui.table(columns=i18n.columns(COLUMNS), rows=rows, row_key="id").classes(
                    "w-full"
                ).mark("deliveries")


def _row(delivery: Delivery, attempts: list[Attempt], timezone: str) -> dict[str, Any]:
    last = attempts[-1] if attempts else None
    if last is None:
        answer = ""
    elif last.status_code is not None:
        answer = f"{last.status_code} · {moment(last.at, timezone)}"
    else:
        answer = _("no answer: {error}").format(error=last.error or "")
    return {
        "id": delivery.id,
        "created": moment(delivery.created_at, timezone),
        "event": delivery.event_type,
        "request": delivery.request_id,
        "status": _(STATUS_WORDS.get(delivery.status, delivery.status)),
        "attempts": delivery.attempts,
        "answer": answer,
    }
