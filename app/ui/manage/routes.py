"""Which page of the manager console lives at which path."""

from nicegui import ui

from app.ui.manage import audit, chargers, policy, queue, requests, timeline, usage, webhooks


def register() -> None:
    ui.page("/manage")(queue.page)
    ui.page(chargers.PATH)(chargers.page)
    ui.page(policy.PATH)(policy.page)
    ui.page(requests.PATH)(requests.page)
    ui.page(timeline.PATH)(timeline.page)
    ui.page(usage.PATH)(usage.page)
    ui.page(audit.PATH)(audit.page)
    ui.page(webhooks.PATH)(webhooks.page)
