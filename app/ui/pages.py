"""Which page lives at which path."""

from nicegui import ui

from app.ui import sign_in
from app.ui.driver import request
from app.ui.manage import queue


def register() -> None:
    """Once per process: NiceGUI keeps its pages in one app for the whole process."""
    ui.page("/sign-in")(sign_in.page)
    ui.page("/manage")(queue.page)
    ui.page("/app")(request.page)
