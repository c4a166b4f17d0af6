"""Which language a page speaks, and the switch on every page that changes it.

The user's own choice (stored on the user, so it follows them to every browser) comes
first; before signing in, this browser's choice; else the browser's Accept-Language; else
English. The choice is made once per page build, for that page's client only.
"""

import json

from nicegui import app, ui

from app.domain.model import User
from app.services.container import Services
from app.services.preferences import LANGUAGES, language_of, set_language
from app.ui import i18n
from app.ui.i18n import _

BROWSER_KEY = "language"  # this browser's choice, in its server-side session storage
# The phone's offline wallet reads the language from here (app/ui/driver/phone/wallet.js).
PHONE_KEY = "powerpermit.language"


def from_header(accept_language: str | None) -> str | None:
    """The first of the browser's languages (by q-value) that the pages speak."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else None


async def settle(services: Services, user: User | None) -> str:
    """Picks the language of the page being built, for its client alone."""
    client = i18n.page_client()
    if client is None:
        return i18n.DEFAULT
    chosen = await language_of(services, user) if user is not None else None
    if chosen not in LANGUAGES:
        stored = app.storage.user.get(BROWSER_KEY)
        chosen = stored if stored in LANGUAGES else None
    if chosen is None:
        header = client.request.headers.get("accept-language") if client.request else None
        chosen = from_header(header) or i18n.DEFAULT
    i18n.use(client, chosen)
    return chosen


def switch(services: Services, user: User | None, *, dark: bool = False) -> ui.select:
    """English / 日本語: the page reloads in the chosen language; signed in, the choice is
    the user's in every browser from then on."""
    language = i18n.current()

    async def chosen() -> None:
        if choice.value == language:
            return
        if user is None:  # before signing in: this browser's choice
            app.storage.user[BROWSER_KEY] = choice.value
        else:  # the user's, in every browser
            await set_language(services, user, choice.value)
        ui.navigate.reload()

    choice = ui.select(i18n.NAMES, value=language, on_change=chosen)
    choice.props(f"dense borderless aria-label={json.dumps(_('Language'))}")
    if dark:
        choice.props("dark options-dark=false")
    # The offline wallet has no session: it learns the language from the phone's storage.
    ui.run_javascript(f"localStorage.setItem({PHONE_KEY!r}, {language!r})")
    return choice.mark("language")
