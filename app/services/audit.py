"""Snapshots of entities for the audit trail."""

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from app.domain.model import UsageRequest
from app.store.audit import AuditLog
from app.store.requests import UsageRequests


def request_snapshot(request: UsageRequest) -> dict[str, Any]:
    return {
        "status": request.status.value,
        "device_id": request.device_id,
        "starts_at": request.slot.starts_at.isoformat(),
        "ends_at": request.slot.ends_at.isoformat(),
        "permit_id": request.permit_id,
        "energy_wh": request.energy_wh,
    }


def audit_request(
    conn: Connection,
    *,
    at: datetime,
    actor_id: str | None,
    action: str,
    before: UsageRequest | None,
    after: UsageRequest,
) -> None:
    AuditLog(conn).record(
        at=at,
        actor_id=actor_id,
        action=action,
        entity="usage_request",
        entity_id=after.id,
        before=request_snapshot(before) if before else None,
        after=request_snapshot(after),
        site_id=after.site_id,
    )


def save_request(
    conn: Connection,
    before: UsageRequest,
    after: UsageRequest,
    *,
    at: datetime,
    actor_id: str | None,
    action: str,
) -> UsageRequest:
    """Store a request's new state with its audit row, in the caller's transaction."""
    UsageRequests(conn).save(after)
    audit_request(conn, at=at, actor_id=actor_id, action=action, before=before, after=after)
    return after
