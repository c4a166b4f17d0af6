"""Who is signed in on this browser.

The session lives on the server, in NiceGUI's per-browser user storage (app/ui/web.py puts
it in the data directory); the browser holds only a signed, http-only cookie naming it.
The session keeps the bearer token `accounts.login` issued, so a withdrawn token or a
removed account ends the session too, and the time of the last use: a session unused for
IDLE_LIMIT ends, and its token is withdrawn.
"""

from datetime import timedelta

from nicegui import app

from app.domain.model import User
from app.services.accounts import authenticate, login
from app.services.container import Services
from app.services.web_sessions import withdraw_token
from app.ui import language

IDLE_LIMIT = timedelta(minutes=30)


async def sign_in(
    services: Services, login_name: str, password: str, address: str | None = None
) -> User | None:
    """None for a wrong password and for an unknown login alike. Raises RateLimited while
    the login or the browser's `address` is backed off after failed sign-ins."""
    found = await login(services, login_name, password, address)
    if found is None:
        return None
    user, token = found
    app.storage.user.update(token=token, seen=services.clock().timestamp())
    return user


async def signed_in(services: Services) -> User | None:
    """The person of this session, or None; each call counts as use of the session. The
    page being built or handled speaks this person's language from then on."""
    user = await _session_user(services)
    await language.settle(services, user)
    return user


async def _session_user(services: Services) -> User | None:
    session = app.storage.user
    token = session.get("token")
    if not isinstance(token, str):
        return None
    now = services.clock().timestamp()
    if now - float(session.get("seen", 0)) > IDLE_LIMIT.total_seconds():
        await sign_out(services)
        return None
    user = await authenticate(services, token)
    if user is None:
        session.clear()
        return None
    session["seen"] = now
    return user


async def sign_out(services: Services) -> None:
    """Ends the session; a language chosen on this browser before signing in stays."""
    token = app.storage.user.get("token")
    chosen = app.storage.user.get(language.BROWSER_KEY)
    app.storage.user.clear()
    if chosen is not None:
        app.storage.user[language.BROWSER_KEY] = chosen
    if isinstance(token, str):
        await withdraw_token(services, token)
