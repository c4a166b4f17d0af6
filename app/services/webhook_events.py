"""Which request change is which webhook event, what a delivery's body holds, and how it
is signed: shared by the subscriptions (app/services/webhooks.py) and the sender
(app/services/webhook_delivery.py). docs/webhooks.md documents all of it for receivers.

The statuses map to event types in one table:
- NEEDS_MANAGER -> request.submitted: the request waits for a manager's decision.
- APPROVED, REJECTED -> request.decided. A request the site's rules approve at once is
  decided as it is made: it yields request.decided only, never request.submitted
  ("submitted" means someone has to decide; one event per change, none invented).
- REVOKED -> request.revoked; COMPLETED -> request.completed.
- CANCELLED -> request.cancelled and EXPIRED -> request.expired: the other ends a pending
  or approved request may come to, for integrators that track one to its end.
A subscription gets each (request, event type) once: a permit issued later writes another
APPROVED event, which yields no second request.decided.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from app.domain.model import Status

SUBMITTED = "request.submitted"
DECIDED = "request.decided"
REVOKED = "request.revoked"
COMPLETED = "request.completed"
CANCELLED = "request.cancelled"
EXPIRED = "request.expired"

EVENT_TYPES: dict[Status, str] = {
    Status.NEEDS_MANAGER: SUBMITTED,
    Status.APPROVED: DECIDED,
    Status.REJECTED: DECIDED,
    Status.REVOKED: REVOKED,
    Status.COMPLETED: COMPLETED,
    Status.CANCELLED: CANCELLED,
    Status.EXPIRED: EXPIRED,
}
ALL_EVENTS: tuple[str, ...] = tuple(dict.fromkeys(EVENT_TYPES.values()))

SIGNATURE_HEADER = "PowerPermit-Signature"
EVENT_ID_HEADER = "PowerPermit-Event-Id"


def event_type(status: str) -> str | None:
    try:
        return EVENT_TYPES[Status(status)]
    except ValueError:
        return None


def body(event_id: str, kind: str, occurred_ms: int, fields: dict[str, Any]) -> str:
    """The JSON a receiver gets, fixed when the delivery is made: every retry sends the
    same bytes."""
    occurred = datetime.fromtimestamp(occurred_ms / 1000, UTC)
    return json.dumps(
        {
            "id": event_id,
            "type": kind,
            "occurredAt": occurred.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "request": {
                "id": fields["request_id"],
                "siteId": fields["site_id"],
                "deviceId": fields["device_id"],
                "userId": fields["user_id"],
                "status": fields["status"],
            },
        },
        separators=(",", ":"),
    )


def signature(secret: str, timestamp: int, raw_body: bytes) -> str:
    """The PowerPermit-Signature header: v1 is HMAC-SHA256(secret, "<t>.<raw body>")."""
    signed = f"{timestamp}.".encode() + raw_body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
