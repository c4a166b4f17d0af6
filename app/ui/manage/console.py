"""What every page of the manager console shares: sign-in, managers only, the navigation,
and the site the manager is looking at (remembered per browser across the pages)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nicegui import app, ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.domain.model import Site, User
from app.services.container import Services
from app.services.sites import sites_managed_by
from app.ui import sessions, sign_in, theme
from app.ui.i18n import N_, _
from app.ui.scope import services_of

PAGES = {
    "/manage": N_("Approval queue"),
    "/manage/chargers": N_("Chargers"),
    "/manage/timeline": N_("Timeline"),
    "/manage/requests": N_("Requests"),
    "/manage/policy": N_("Site policy"),
    "/manage/usage": N_("Usage"),
    "/manage/audit": N_("Audit log"),
    "/manage/webhooks": N_("Webhooks"),
}
SITE_KEY = "console_site"


@dataclass
class Console:
    services: Services
    manager: User
    sites: list[Site]  # the ones this manager runs, by name: never empty

    @property
    def site(self) -> Site:
        """The site chosen last in this browser, or the first."""
        chosen = app.storage.user.get(SITE_KEY)
        return next((site for site in self.sites if site.id == chosen), self.sites[0])

    def site_choice(self, on_change: Callable[[], object]) -> ui.select:
        options = {site.id: f"{site.name} ({site.timezone})" for site in self.sites}

        def changed() -> None:
            app.storage.user[SITE_KEY] = choice.value
            on_change()

        choice = ui.select(options, label=_("Site"), value=self.site.id, on_change=changed)
        return choice.classes("w-72").mark("site")

    async def still_signed_in(self) -> bool:
        """Before an action: a session that ended meanwhile signs in again first."""
        if await sessions.signed_in(self.services) is None:
            sign_in.again()
            return False
        return True


async def serve(
    request: Request, path: str, build: Callable[[Console], Awaitable[None]]
) -> RedirectResponse | None:
    services = services_of(request)
    user = await sessions.signed_in(services)
    if user is None:
        return sign_in.redirect(request)
    title = _(PAGES[path]) if user.is_manager else _("Manager console")
    with theme.frame(title, services, user):
        if not user.is_manager:
            managers_only()
            return None
        navigation(path)
        sites = await sites_managed_by(services, user)
        if not sites:
            ui.label(_("You do not manage a site yet."))
            return None
        await build(Console(services, user, sites))
    return None


def navigation(current: str) -> None:
    with ui.row().classes("gap-4").mark("console-navigation"):
        for path, label in PAGES.items():
            link = ui.link(_(label), path)
            if path == current:
                link.classes("font-bold no-underline")


def managers_only() -> None:
    with ui.card().mark("managers-only"):
        ui.label(_("Managers only")).classes("text-xl")
        ui.label(_("The manager console is for the managers of a site."))
        ui.link(_("Go to the driver app"), "/app")
