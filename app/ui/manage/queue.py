"""The manager console's approval queue, live: requests that wait for this manager."""

from collections.abc import Awaitable

from nicegui import context, ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.domain.errors import InvalidTransition
from app.domain.model import User
from app.services.approval_queue import Waiting, approval_queue
from app.services.container import Services
from app.services.errors import ServiceError
from app.services.usage import approve, reject
from app.ui import live, sessions, sign_in
from app.ui.i18n import _
from app.ui.manage import console
from app.ui.words import error_words, reason_words, slot_words


async def page(request: Request) -> RedirectResponse | None:
    return await console.serve(request, "/manage", show)


async def show(view: console.Console) -> None:
    queue = ApprovalQueue(view.services, view.manager)
    # Listen before the first load, so nothing decided in between goes unseen.
    topics = [f"site:{site.id}" for site in view.sites]
    await live.follow(view.services, topics, lambda _: queue.show.refresh())
    await queue.show()


class ApprovalQueue:
    def __init__(self, services: Services, manager: User) -> None:
        self.services = services
        self.manager = manager
        # The clicked card may be gone by the time a decision returns (its own event redrew
        # the queue): what follows speaks through the page itself.
        self.client = context.client

    @ui.refreshable_method
    async def show(self) -> None:
        waiting = await approval_queue(self.services, self.manager)
        ui.label(_("Waiting for a manager: {count}").format(count=len(waiting))).classes(
            "text-lg"
        ).mark("queue-size")
        if not waiting:
            ui.label(_("No request waits for you."))
        for item in waiting:
            self._card(item)

    def _card(self, item: Waiting) -> None:
        request = item.request
        with ui.card().classes("w-full").mark(f"request-{request.id}"):
            ui.label(f"{item.driver_name} · {item.device_name} · {item.site_name}").classes(
                "font-bold"
            )
            ui.label(slot_words(request.slot, item.timezone))
            for reason in request.reasons:
                ui.label(_("Why a manager: {reason}").format(reason=reason_words(reason))).classes(
                    "text-sm"
                )
            with ui.row():
                ui.button(_("Approve"), on_click=lambda: self._approve(request.id)).props(
                    "color=positive"
                )
                ui.button(_("Reject"), on_click=lambda: self._ask_reason(request.id)).props(
                    "color=negative outline"
                )

    async def _approve(self, request_id: str) -> None:
        if await self._still_signed_in():
            await self._decide(approve(self.services, self.manager, request_id), _("Approved"))

    def _ask_reason(self, request_id: str) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(_("Reject this request?"))
            reason = ui.textarea(_("Reason")).props("maxlength=500 autofocus")

            async def confirm() -> None:
                if not reason.value.strip():
                    ui.notify(_("Say why, so the driver knows."), type="warning")
                    return
                dialog.close()
                if await self._still_signed_in():
                    decided = reject(self.services, self.manager, request_id, reason.value.strip())
                    await self._decide(decided, _("Rejected"))

            with ui.row():
                ui.button(_("Reject"), on_click=confirm).props("color=negative").mark(
                    "confirm-reject"
                )
                ui.button(_("Cancel"), on_click=dialog.close).props("flat")
        dialog.open()

    async def _decide(self, decision: Awaitable[object], done: str) -> None:
        try:
            await decision
        except (ServiceError, InvalidTransition) as err:
            # Most often decided meanwhile in another browser: the queue catches up live.
            with self.client:
                ui.notify(_("Not done: {error}").format(error=error_words(err)), type="warning")
            return
        with self.client:
            ui.notify(done)

    async def _still_signed_in(self) -> bool:
        if await sessions.signed_in(self.services) is None:
            sign_in.again()
            return False
        return True
