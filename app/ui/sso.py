"""/sso/login and /sso/callback: a manager signs in through the organisation's OpenID
Connect provider (app/auth/sso.py) and lands on the console with the same session a
password sign-in gives.

The two routes run outside NiceGUI (app/main.py mounts them ahead of the pages) but wear
NiceGUI's own session: its SessionMiddleware, with the secret and cookie settings NiceGUI
was set up with (app/ui/web.py), and its RequestTrackingMiddleware, which makes
`app.storage.user` this browser's server-side session, as on any page. So the one signed
cookie carries authlib's state between the two legs, and a successful callback stores the
bearer token where app/ui/sessions.py looks for it.
"""

import html
import logging

from nicegui import app as nicegui_app
from nicegui.storage import RequestTrackingMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.sso import (
    Refusal,
    SingleSignOn,
    SsoConfig,
    SsoRefused,
    issue_session_token,
    manager_for,
)
from app.services.container import Services
from app.ui import i18n, language, sessions
from app.ui.i18n import N_

log = logging.getLogger("powerpermit.sso")

LOGIN_PATH = "/sso/login"
LANDING = "/manage"
OFFERED = "powerpermit.sso"  # in the ASGI scope of the pages: the sign-in page offers SSO
BUTTON = N_("Sign in with single sign-on")
TITLE = N_("Single sign-on refused")
BACK = N_("Back to sign-in")
WORDS = {
    Refusal.UNVERIFIED: N_("The sign-in could not be verified. Start again from the sign-in page."),
    Refusal.PROVIDER: N_(
        "The identity provider could not be reached. Try again later, or sign in with your "
        "password."
    ),
    Refusal.NO_EMAIL: N_("The identity provider did not confirm an email address for you."),
    Refusal.UNKNOWN: N_("No PowerPermit account has the login {email}."),
    Refusal.NOT_MANAGER: N_("Single sign-on is for managers; the account {email} is not one."),
    Refusal.DISABLED: N_("The account {email} is disabled."),
    Refusal.NO_SITE: N_("The account {email} manages no site yet."),
}


def offered(request: Request) -> bool:
    return bool(request.scope.get(OFFERED))


def offering(pages: ASGIApp) -> ASGIApp:
    """The pages, told that single sign-on is on (the sign-in page shows its button)."""

    async def marked(scope: Scope, receive: Receive, send: Send) -> None:
        scope[OFFERED] = True
        await pages(scope, receive, send)

    return marked


def routes_app(config: SsoConfig, services: Services) -> Starlette:
    """/login and /callback, to mount at /sso once NiceGUI is set up (app/ui/web.py)."""
    sso = SingleSignOn(config)

    async def login(request: Request) -> Response:
        try:
            return await sso.start(request)
        except SsoRefused as refused:
            return refusal_page(request, refused)

    async def callback(request: Request) -> Response:
        try:
            claims = await sso.finish(request)
            user = await manager_for(services, claims)
        except SsoRefused as refused:
            log.info("SSO refused: %s", refused)
            return refusal_page(request, refused)
        token = await issue_session_token(services, user)
        await sessions.sign_out(services)  # a session this browser had ends first
        nicegui_app.storage.user.update(token=token, seen=services.clock().timestamp())
        log.info("SSO sign-in: %s", user.login)
        return RedirectResponse(LANDING, status_code=303)

    return Starlette(
        routes=[Route("/login", login), Route("/callback", callback)],
        middleware=_nicegui_session(),
    )


def _nicegui_session() -> list[Middleware]:
    """NiceGUI's session cookie exactly as its pages read and write it: the same
    SessionMiddleware entry (secret, cookie name, SameSite), then NiceGUI's tracking."""
    nicegui_session = next(
        m for m in nicegui_app.user_middleware if _same_class(m.cls, SessionMiddleware)
    )
    return [nicegui_session, Middleware(RequestTrackingMiddleware)]


def _same_class(found: object, wanted: type) -> bool:
    # Not inlined: starlette types Middleware.cls as a factory protocol, and mypy calls
    # `m.cls is SessionMiddleware` a non-overlapping identity check.
    return found is wanted


def refusal_page(request: Request, refused: SsoRefused) -> HTMLResponse:
    """Why, in the browser's language, with the way back; no session was made."""
    lang = language.from_header(request.headers.get("accept-language")) or i18n.DEFAULT
    gettext = i18n.CATALOGS[lang].gettext
    reason = gettext(WORDS[refused.reason]).format(email=refused.email)
    title = gettext(TITLE)
    status = 502 if refused.reason is Refusal.PROVIDER else 403
    body = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} · PowerPermit</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(reason)}</p>"
        f'<p><a href="/sign-in">{html.escape(gettext(BACK))}</a></p></body></html>'
    )
    return HTMLResponse(body, status_code=status)
