"""An approved request's permit on the driver's phone: a QR code of its PP1: text.

A permit exists only from PERMIT_LEAD before its window (app/domain/permits.py); until
then the page says from when, and collects it on the first look after that.
"""

import segno
from nicegui import ui

from app.domain.model import Permit, UsageRequest, User
from app.domain.permits import permit_available_at
from app.services.container import Services
from app.services.queries import load_permits_by_id
from app.services.usage import PermitNotIssued, collect_permit
from app.ui.words import moment
from device.protocol.text import to_text


async def show_permit(
    services: Services, driver: User, request: UsageRequest, timezone: str
) -> None:
    permit = await _permit_of(services, driver, request)
    if isinstance(permit, PermitNotIssued):
        if permit.reason.code == "permit_not_yet_available":
            available = moment(permit_available_at(request.slot), timezone)
            ui.label(f"Permit available from {available}").mark("permit-later")
        else:
            ui.label(permit.reason.message)
        return
    qr = segno.make(to_text(permit.token), error="m")
    image = ui.image(qr.svg_data_uri(scale=4, border=2)).classes("w-64 h-64")
    image.props('alt="Permit QR code" no-transition no-spinner').mark("permit-qr")


async def _permit_of(
    services: Services, driver: User, request: UsageRequest
) -> Permit | PermitNotIssued:
    if request.permit_id is not None:
        [permit] = await load_permits_by_id(services, [request.permit_id])
        if permit is not None:
            return permit
    try:
        return (await collect_permit(services, driver, request.id)).permit
    except PermitNotIssued as not_yet:
        return not_yet
