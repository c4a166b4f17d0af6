"""An approved request's permit on the driver's phone: a QR code of its PP1: text, kept in
the phone's wallet, and sent to the charger's local link from the phone's browser.

A permit exists only from PERMIT_LEAD before its window (app/domain/permits.py); until
then the page says from when, and collects it on the first look after that.
"""

import json

import segno
from nicegui import ui

from app.domain.model import Device, Permit, UsageRequest, User
from app.domain.permits import permit_available_at
from app.services.container import Services
from app.services.queries import load_permits_by_id
from app.services.usage import PermitNotIssued, collect_permit
from app.ui.driver import charger_link
from app.ui.i18n import _
from app.ui.words import moment, reason_words, slot_words
from device.protocol.text import to_text


def show_permit(
    permit: Permit | PermitNotIssued, request: UsageRequest, timezone: str, device: Device | None
) -> None:
    """Draws without awaiting (see live.Newest): `permit` comes from `permit_of`."""
    if isinstance(permit, PermitNotIssued):
        if permit.reason.code == "permit_not_yet_available":
            available = moment(permit_available_at(request.slot), timezone)
            ui.label(_("Permit available from {moment}").format(moment=available)).mark(
                "permit-later"
            )
        else:
            ui.label(reason_words(permit.reason))
        return
    text = to_text(permit.token)
    qr = segno.make(text, error="m").svg_data_uri(scale=4, border=2)
    image = ui.image(qr).classes("w-64 h-64")
    image.props(f"alt={json.dumps(_('Permit QR code'))} no-transition no-spinner").mark("permit-qr")
    _keep_on_phone(permit, text, qr, device, slot_words(request.slot, timezone))
    if device is not None and device.link_url:
        _link_buttons(device.link_url, permit.id, text)


def forget_on_phone(permit_ids: list[str]) -> None:
    """Withdrawn permits leave the phone's wallet."""
    if permit_ids:
        ui.run_javascript(f"powerpermitWallet.forget({json.dumps(permit_ids)})")


def _keep_on_phone(permit: Permit, text: str, qr: str, device: Device | None, window: str) -> None:
    """Into the browser's wallet (phone/held.js), for /app/wallet to show offline."""
    held = {
        "id": permit.id,
        "device": device.name if device else permit.device_id,
        "window": window,
        "expiresAt": permit.expires_at.isoformat(),
        "text": text,
        "qr": qr,
        "link": device.link_url if device else None,
    }
    ui.run_javascript(f"powerpermitWallet.keep({json.dumps(held)})")


def _link_buttons(link_url: str, permit_id: str, text: str) -> None:
    async def send() -> None:
        answer.set_text(_("Sending to the charger…"))
        sent = await charger_link.send_permit(link_url, permit_id, text)
        if sent.ok and sent.body.get("accepted") is True:
            answer.set_text(_("The charger accepted the permit."))
        else:
            answer.set_text(
                _("The charger refused the permit: {reason}").format(reason=sent.reason_words())
            )

    async def stop() -> None:
        answer.set_text(_("Asking the charger to stop…"))
        stopped = await charger_link.stop(link_url, permit_id, text)
        if not stopped.ok:
            answer.set_text(_("Not stopped: {reason}").format(reason=stopped.reason_words()))
        elif stopped.body.get("stopped") is True:
            answer.set_text(_("Charging stopped."))
        else:
            answer.set_text(_("No session was active on the charger."))

    with ui.row().classes("w-full gap-2"):
        ui.button(_("Send to charger"), on_click=send).classes("grow").mark("send-to-charger")
        ui.button(_("Stop charging"), on_click=stop).props("outline").mark("stop-charging")
    answer = ui.label("").mark("charger-answer")


async def permit_of(
    services: Services, driver: User, request: UsageRequest
) -> Permit | PermitNotIssued:
    """The approved request's permit, collected if it is due and not yet issued."""
    if request.permit_id is not None:
        [permit] = await load_permits_by_id(services, [request.permit_id])
        if permit is not None:
            return permit
    try:
        return (await collect_permit(services, driver, request.id)).permit
    except PermitNotIssued as not_yet:
        return not_yet
