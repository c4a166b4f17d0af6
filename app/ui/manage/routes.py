"""Which page of the manager console lives at which path."""

from nicegui import ui

from app.ui.manage import chargers, policy, queue


def register() -> None:
    ui.page("/manage")(queue.page)
    ui.page(chargers.PATH)(chargers.page)
    ui.page(policy.PATH)(policy.page)
