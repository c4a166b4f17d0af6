"""Which page lives at which path."""

from nicegui import ui

from app.ui import consent, sign_in
from app.ui.driver import request, wallet
from app.ui.manage import routes as manager_console


def register() -> None:
    """Once per process: NiceGUI keeps its pages in one app for the whole process."""
    ui.page("/sign-in")(sign_in.page)
    manager_console.register()
    ui.page("/app")(request.page)
    ui.page("/app/consent")(consent.page)  # OAuth2: a third-party app asks to act for you
    wallet.register()  # /app/wallet: static, so it works with the network gone
