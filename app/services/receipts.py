"""Receipts carried home by phones: verified against the device's key, counted once, and
acknowledged with the server's signature so the device may delete what the server holds."""

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.engine import Connection

from app.domain.model import Status, UsageRequest
from app.services.audit import save_request
from app.services.container import Services
from app.services.publishing import write_then_publish
from app.store.permits import Permits, Receipts
from app.store.repositories import Devices
from app.store.requests import UsageRequests
from device.protocol import ProtocolError
from device.protocol.acknowledgement import MAX_RECEIPTS_PER_ACK
from device.protocol.keys import b64url_decode, public_key_from_raw
from device.protocol.receipt import Receipt, peek_device_id, read_receipt, receipt_digest


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
    digest: bytes | None = None
    acknowledgement: bytes | None = None  # server-signed: the device may now delete it


async def submit_receipts(services: Services, tokens: list[str]) -> list[ReceiptOutcome]:
    now = services.clock()
    changed: list[UsageRequest] = []

    def work(conn: Connection) -> list[ReceiptOutcome]:
        return [_ingest(conn, token, now, changed) for token in tokens]

    outcomes = await write_then_publish(services, work, lambda _: changed)
    return _acknowledged(services, outcomes, now)


def _acknowledged(
    services: Services, outcomes: list[ReceiptOutcome], now: datetime
) -> list[ReceiptOutcome]:
    """Sign, after the commit, one acknowledgement per device naming its stored receipts.

    Duplicates are acknowledged too: the server holds them, so the device may let them go.
    Invalid receipts are not: the device keeps them until the server can store them.
    """
    stored: dict[str, list[int]] = defaultdict(list)
    for index, outcome in enumerate(outcomes):
        if outcome.receipt is not None and outcome.status != ReceiptStatus.INVALID:
            stored[outcome.receipt.device_id].append(index)
    acknowledged = list(outcomes)
    for device_id, indexes in stored.items():
        for start in range(0, len(indexes), MAX_RECEIPTS_PER_ACK):
            chunk = indexes[start : start + MAX_RECEIPTS_PER_ACK]
            digests = {d for i in chunk if (d := outcomes[i].digest) is not None}
            ack = services.signer.receipt_acknowledgement(device_id, digests, now)
            for i in chunk:
                acknowledged[i] = replace(outcomes[i], acknowledgement=ack)
    return acknowledged


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
    digest = receipt_digest(data)
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
            "digest": digest,
        }
    )
    if not stored:
        return ReceiptOutcome(ReceiptStatus.DUPLICATE, None, receipt, permit.request_id, digest)
    _complete(conn, permit.request_id, Receipts(conn).energy_for_permit(permit.id), now, changed)
    return ReceiptOutcome(ReceiptStatus.ACCEPTED, None, receipt, permit.request_id, digest)


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
