"""Which page lives at which path."""

from nicegui import ui

from app.ui import sign_in
from app.ui.driver import request, wallet
from app.ui.manage import routes as manager_console


def register() -> None:
    """Once per process: NiceGUI keeps its pages in one app for the whole process."""
    ui.page("/sign-in")(sign_in.page)
    manager_console.register()
    ui.page("/app")(request.page)
    wallet.register()  # /app/wallet: static, so it works with the network gone
