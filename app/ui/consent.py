"""The consent page: a signed-in person allows or denies a third-party app's request to act
for them (OAuth2 authorization code). /oauth/authorize checked the request and sends the
browser here with a signed ticket (app/auth/consent.py); Allow or Deny sends it on to the
app's redirect URI."""

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.auth import consent
from app.auth.server import OAuthServer
from app.domain import scopes
from app.ui import language, sessions, sign_in
from app.ui.i18n import N_, _
from app.ui.scope import services_of

SCOPE_WORDS = {
    scopes.REQUESTS_READ: N_("See your charging requests, chargers and permits"),
    scopes.REQUESTS_WRITE: N_("Ask for charging slots, cancel them and collect permits"),
    scopes.REQUESTS_DECIDE: N_("Approve, reject and revoke requests, and set approval rules"),
    scopes.DEVICES_MANAGE: N_("Register and edit chargers"),
    scopes.RECEIPTS_WRITE: N_("Bring chargers' receipts home"),
}


async def page(request: Request, ticket: str = "") -> RedirectResponse | None:
    services = services_of(request)
    server: OAuthServer = request.scope[consent.SCOPE_KEY]
    user = await sessions.signed_in(services)
    if user is None:
        return sign_in.redirect(request)  # and back here, ticket and all, afterwards
    ui.page_title(_("Allow access") + " · PowerPermit")
    try:
        asked = await consent.pending(server, ticket)
    except consent.BadTicket:
        with ui.card().classes("absolute-center w-96"):
            ui.label(_("This request for access is no longer valid.")).mark("consent-invalid")
            ui.label(_("Go back to the application and start again."))
        return None

    async def answer(allowed: bool) -> None:
        try:
            location = await consent.decide(server, ticket, user if allowed else None)
        except consent.BadTicket:
            ui.notify(_("This request for access is no longer valid."), type="negative")
            return
        ui.navigate.to(location)

    with ui.card().classes("absolute-center w-96 items-stretch"):
        with ui.row().classes("items-center justify-between"):
            ui.label("PowerPermit").classes("text-xl font-bold")
            language.switch(services, user)
        title = _("{app} asks to act for you").format(app=asked.client_name)
        ui.label(title).classes("text-lg").mark("consent-title")
        ui.label(_("Signed in as {name}").format(name=user.display_name))
        ui.label(_("If you allow it, it may:"))
        with ui.column().classes("gap-1 q-ml-md"):
            for scope in asked.scopes:
                ui.label("• " + _(SCOPE_WORDS[scope])).mark(f"scope-{scope}")
        ui.label(_("Afterwards you go back to {host}.").format(host=asked.redirect_host))
        with ui.row().classes("justify-end"):
            ui.button(_("Deny"), on_click=lambda: answer(False)).props("flat").mark("deny")
            ui.button(_("Allow"), on_click=lambda: answer(True)).mark("allow")
    return None
