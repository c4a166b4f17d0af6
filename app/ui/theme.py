"""The frame every signed-in page shares: the app's name, who is signed in, Sign out."""

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from app.domain.model import User
from app.services.container import Services
from app.ui import sessions


@contextmanager
def frame(title: str, services: Services, user: User, *, phone: bool = False) -> Iterator[None]:
    """`phone` lays the page out for a 390 px wide screen, one column, thumbs' reach."""
    ui.page_title(f"{title} · PowerPermit")
    with ui.header().classes("items-center justify-between"):
        ui.label("PowerPermit").classes("font-bold")
        if not phone:
            ui.label(title)
        with ui.row().classes("items-center gap-2"):
            ui.label(user.display_name).mark("signed-in-as")

            async def sign_out() -> None:
                await sessions.sign_out(services)
                ui.navigate.to("/sign-in")

            ui.button("Sign out", on_click=sign_out).props("flat color=white")
    width = "max-w-md" if phone else "max-w-5xl"
    with ui.column().classes(f"w-full {width} mx-auto gap-4"):
        if phone:
            ui.label(title).classes("text-xl")
        yield
