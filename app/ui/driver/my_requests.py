"""The driver's newest requests: each one's status in words, live; once approved, its
permit; while it still holds its slot, a way to cancel it."""

from nicegui import context, ui

from app.domain.errors import InvalidTransition
from app.domain.model import SLOT_HOLDING, Status, UsageRequest, User
from app.services.bookable import Bookable
from app.services.container import Services
from app.services.errors import ServiceError
from app.services.queries import list_requests
from app.services.usage import cancel
from app.ui import sessions, sign_in
from app.ui.driver.permit import forget_on_phone, permit_of, show_permit
from app.ui.i18n import _
from app.ui.live import Newest
from app.ui.words import error_words, reason_words, slot_words, status_words

SHOWN_REQUESTS = 5
WITHDRAWN = frozenset({Status.CANCELLED, Status.REVOKED})


class MyRequests:
    def __init__(self, services: Services, user: User, choices: list[Bookable]) -> None:
        self.services, self.user = services, user
        self.choices = {choice.device.id: choice for choice in choices}
        self.newest = Newest()
        # A request's card may be gone when its action returns (its event redrew the list):
        # what follows speaks through the page itself.
        self.client = context.client

    @ui.refreshable_method
    async def show(self) -> None:
        turn = self.newest.turn()
        page = await list_requests(
            self.services, self.user, status=None, first=SHOWN_REQUESTS, after_id=None
        )
        permits = {
            request.id: await permit_of(self.services, self.user, request)
            for request in page.requests
            if request.status is Status.APPROVED
        }
        if not self.newest.may_draw(turn):
            return  # a newer refresh draws the list
        if page.requests:
            ui.label(_("Your requests")).classes("text-lg")
        # A withdrawn permit leaves the wallet; a used or expired one stays until its window
        # has passed (the wallet drops those itself).
        forget_on_phone(
            [r.permit_id for r in page.requests if r.permit_id and r.status in WITHDRAWN]
        )
        for request in page.requests:
            choice = self.choices.get(request.device_id)
            timezone = choice.timezone if choice else "UTC"
            with ui.card().classes("w-full").mark(f"request-{request.id}"):
                ui.label(choice.device.name if choice else request.device_id).classes("font-bold")
                ui.label(slot_words(request.slot, timezone))
                ui.label(status_words(request.status)).classes("text-lg").mark("status")
                if request.status is Status.NEEDS_MANAGER:
                    for reason in request.reasons:
                        ui.label(reason_words(reason)).classes("text-sm")
                if request.status is Status.REJECTED and request.note:
                    ui.label(_("Reason: {reason}").format(reason=request.note))
                if request.status is Status.APPROVED:
                    device = choice.device if choice else None
                    show_permit(permits[request.id], request, timezone, device)
                if request.status in SLOT_HOLDING:
                    self._cancel_button(request)

    def _cancel_button(self, request: UsageRequest) -> None:
        async def confirm() -> None:
            dialog.close()
            if await sessions.signed_in(self.services) is None:
                sign_in.again()
                return
            try:
                await cancel(self.services, self.user, request.id)
            except (ServiceError, InvalidTransition) as err:
                with self.client:
                    words = _("Not cancelled: {error}").format(error=error_words(err))
                    ui.notify(words, type="warning")
            # The cancellation's event refreshes the list.

        with ui.dialog() as dialog, ui.card():
            ui.label(_("Cancel this request? Its slot goes back to others."))
            with ui.row():
                ui.button(_("Cancel request"), on_click=confirm).props("color=negative").mark(
                    "confirm-cancel"
                )
                ui.button(_("Keep it"), on_click=dialog.close).props("flat")
        ui.button(_("Cancel"), on_click=dialog.open).props("flat color=negative").mark("cancel")
