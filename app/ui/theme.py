"""The frame every signed-in page shares: the app's name, who is signed in, the language
switch, Sign out."""

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from nicegui import ui

from app.domain.model import User
from app.services.container import Services
from app.ui import language, sessions
from app.ui.i18n import _

# Signing out empties this browser's wallet (app/ui/driver/phone/held.js keeps the permits
# there), so the next person on a shared phone finds none. The page waits for the browser's
# answer before it moves on, so the clearing is not cut short by the next page.
CLEAR_WALLET = 'localStorage.removeItem("powerpermit.wallet"); return true;'
CLEAR_WAIT_S = 3.0


@contextmanager
def frame(title: str, services: Services, user: User, *, phone: bool = False) -> Iterator[None]:
    """`phone` lays the page out for a 390 px wide screen, one column, thumbs' reach.
    `title` is already in the page's language."""
    ui.page_title(f"{title} · PowerPermit")
    with ui.header().classes("items-center justify-between"):
        ui.label("PowerPermit").classes("font-bold")
        if not phone:
            ui.label(title)
        with ui.row().classes("items-center gap-2"):
            ui.label(user.display_name).mark("signed-in-as")
            language.switch(services, user, dark=True)

            async def sign_out() -> None:
                await sessions.sign_out(services)
                # A browser that does not answer is signed out all the same.
                with suppress(TimeoutError):
                    await ui.run_javascript(CLEAR_WALLET, timeout=CLEAR_WAIT_S)
                ui.navigate.to("/sign-in")

            ui.button(_("Sign out"), on_click=sign_out).props("flat color=white").mark("sign-out")
    width = "max-w-md" if phone else "max-w-5xl"
    with ui.column().classes(f"w-full {width} mx-auto gap-4"):
        if phone:
            ui.label(title).classes("text-xl")
        yield
