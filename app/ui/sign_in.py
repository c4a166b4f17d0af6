"""The sign-in page both apps send a signed-out visitor to."""

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.ui import sessions
from app.ui.scope import services_of

# Where a successful sign-in may go back to: never a URL taken from the query as it is.
DESTINATIONS = ("/manage", "/app")
WRONG = "Wrong login or password."  # the same words whether or not the login exists


def redirect(destination: str) -> RedirectResponse:
    return RedirectResponse(f"/sign-in?next={destination}", status_code=303)


async def page(request: Request, next: str = "/app") -> RedirectResponse | None:
    services = services_of(request)
    destination = next if next in DESTINATIONS else "/app"
    if await sessions.signed_in(services) is not None:
        return RedirectResponse(destination, status_code=303)
    ui.page_title("Sign in · PowerPermit")

    async def submit() -> None:
        if not login.value or not password.value:
            error.set_text("Enter your login and password.")
            return
        button.disable()
        try:
            user = await sessions.sign_in(services, login.value.strip(), password.value)
        finally:
            button.enable()
        if user is None:
            password.set_value("")
            error.set_text(WRONG)
            return
        ui.navigate.to(destination)

    with ui.card().classes("absolute-center w-80 items-stretch"):
        ui.label("PowerPermit").classes("text-xl font-bold")
        login = ui.input("Login").props("autofocus autocomplete=username")
        password = ui.input("Password", password=True, password_toggle_button=True)
        password.props("autocomplete=current-password")
        login.on("keydown.enter", lambda: password.run_method("focus"))
        password.on("keydown.enter", submit)
        button = ui.button("Sign in", on_click=submit)
        error = ui.label("").classes("text-negative").mark("sign-in-error")
    return None
