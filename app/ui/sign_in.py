"""The sign-in page both apps send a signed-out visitor to, and back from it to the page
the visitor asked for."""

import re
from urllib.parse import quote, unquote, urlsplit

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.services.errors import RateLimited
from app.ui import i18n, language, sessions, sso
from app.ui.i18n import N_, _
from app.ui.scope import services_of

# Where a successful sign-in may go back to: a page of one of the two apps, on this site.
APPS = ("/manage", "/app")
HOME = "/app"
WRONG = N_("Wrong login or password.")  # the same words whether or not the login exists
TOO_MANY = N_("Too many sign-in attempts. Try again in a moment.")  # for any login too
# A path and query of plain URL characters: no backslash, no space, no control character.
PLAIN = re.compile(r"[A-Za-z0-9/_.~%?&=+,:;@!*'()$-]*")


def redirect(request: Request) -> RedirectResponse:
    """To sign-in, which comes back here (path and query) afterwards."""
    return RedirectResponse(link_back_to(request), status_code=303)


def link_back_to(request: Request | None, fallback: str = HOME) -> str:
    """The sign-in page's address that returns to the page of `request` afterwards."""
    here = fallback
    if request is not None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/sign-in?next={quote(here, safe='/')}"


def again() -> None:
    """A session that ended while its page was open: sign in, then back to this page."""
    client = i18n.page_client()  # also from a handler whose dialog is gone
    ui.navigate.to(link_back_to(client.request if client else None))


def destination(next: str | None) -> str:
    """`next` if it is a page of one of the apps on this site, else the app's home: a
    sign-in link must never send anyone elsewhere (`//evil`, `https://...`, `/\\evil`, or
    any of those percent-encoded)."""
    if not next or not PLAIN.fullmatch(next):
        return HOME
    decoded = next
    for _round in range(3):  # a browser may decode an encoded path before resolving it
        decoded = unquote(decoded)
    if "\\" in decoded or "//" in decoded or any(ord(c) < 32 for c in decoded):
        return HOME
    parts = urlsplit(next)
    if parts.scheme or parts.netloc or ".." in decoded.split("?")[0].split("/"):
        return HOME
    if not any(parts.path == app or parts.path.startswith(app + "/") for app in APPS):
        return HOME
    return next


async def page(request: Request, next: str = HOME) -> RedirectResponse | None:
    services = services_of(request)
    going_to = destination(next)
    if await sessions.signed_in(services) is not None:
        return RedirectResponse(going_to, status_code=303)
    ui.page_title(_("Sign in") + " · PowerPermit")
    address = request.client.host if request.client else None  # failed sign-ins back off

    async def submit() -> None:
        if not login.value or not password.value:
            error.set_text(_("Enter your login and password."))
            return
        button.disable()
        try:
            user = await sessions.sign_in(services, login.value.strip(), password.value, address)
        except RateLimited:
            password.set_value("")
            error.set_text(_(TOO_MANY))
            return
        finally:
            button.enable()
        if user is None:
            password.set_value("")
            error.set_text(_(WRONG))
            return
        ui.navigate.to(going_to)

    with ui.card().classes("absolute-center w-80 items-stretch"):
        with ui.row().classes("items-center justify-between"):
            ui.label("PowerPermit").classes("text-xl font-bold")
            language.switch(services, None)
        login = ui.input(_("Login")).props("autofocus autocomplete=username")
        password = ui.input(_("Password"), password=True, password_toggle_button=True)
        password.props("autocomplete=current-password")
        login.on("keydown.enter", lambda: password.run_method("focus"))
        password.on("keydown.enter", submit)
        button = ui.button(_("Sign in"), on_click=submit)
        error = ui.label("").classes("text-negative").mark("sign-in-error")
        if sso.offered(request):  # managers only: the route refuses anyone else
            ui.button(_(sso.BUTTON)).props(f"flat no-caps href={sso.LOGIN_PATH}").mark("sso")
    return None
