"""Receipts carried home by phones: verified against the device's key, counted once."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.engine import Connection

from app.domain.model import Status, UsageRequest
from app.services.audit import save_request
from app.services.container import Services
from app.services.publishing import publish
from app.store.permits import Permits, Receipts
from app.store.repositories import Devices
from app.store.requests import UsageRequests
from device.protocol import ProtocolError
from device.protocol.keys import b64url_decode, public_key_from_raw
from device.protocol.receipt import Receipt, peek_device_id, read_receipt


class ReceiptStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    INVALID = "INVALID"


@dataclass(frozen=True)
class ReceiptOutcome:
    status: ReceiptStatus
    reason: str | None = None
    receipt: Receipt | None = None
    request_id: str | None = None


async def submit_receipts(services: Services, tokens: list[str]) -> list[ReceiptOutcome]:
    now = services.clock()
    changed: list[UsageRequest] = []

    def work(conn: Connection) -> list[ReceiptOutcome]:
        return [_ingest(conn, token, now, changed) for token in tokens]

    outcomes = await services.db.write(work)
    for request in changed:
        await publish(services, request)
    return outcomes


def _ingest(
    conn: Connection, token: str, now: datetime, changed: list[UsageRequest]
) -> ReceiptOutcome:
    try:
        data = b64url_decode(token.strip())
        device = Devices(conn).get(peek_device_id(data))
        if device is None or device.public_key is None:
            return ReceiptOutcome(ReceiptStatus.INVALID, "unknown_device")
        receipt = read_receipt(data, public_key_from_raw(device.public_key))
    except ProtocolError as err:
        return ReceiptOutcome(ReceiptStatus.INVALID, err.code)
    permit = Permits(conn).get(receipt.permit_id.hex())
    if permit is None or permit.device_id != receipt.device_id:
        return ReceiptOutcome(ReceiptStatus.INVALID, "unknown_permit", receipt)
    stored = Receipts(conn).add(
        {
            "device_id": receipt.device_id,
            "counter": receipt.counter,
            "permit_id": permit.id,
            "request_id": int(permit.request_id),
            "started_at": _at(receipt.started_at),
            "stopped_at": _at(receipt.stopped_at),
            "energy_wh": receipt.energy_wh,
            "stop_reason": receipt.stop_reason,
            "token": data,
            "received_at": now,
        }
    )
    if not stored:
        return ReceiptOutcome(ReceiptStatus.DUPLICATE, None, receipt, permit.request_id)
    _complete(conn, permit.request_id, Receipts(conn).energy_for_permit(permit.id), now, changed)
    return ReceiptOutcome(ReceiptStatus.ACCEPTED, None, receipt, permit.request_id)


def _complete(
    conn: Connection, request_id: str, energy_wh: float, now: datetime, changed: list[UsageRequest]
) -> None:
    """The device used the permit: the request is COMPLETED (or keeps its final status)."""
    before = UsageRequests(conn).get(request_id)
    assert before is not None
    if before.status in (Status.APPROVED, Status.EXPIRED):
        after = before.moved_to(Status.COMPLETED, energy_wh=energy_wh)
    else:  # revoked or cancelled mid-session: keep the status, record what was delivered
        after = replace(before, energy_wh=energy_wh)
    changed.append(save_request(conn, before, after, at=now, actor_id=None, action="receipt"))


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
