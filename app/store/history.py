"""A driver's past charging sessions: the receipts their chargers sent for their permits."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.store import tables as t


@dataclass(frozen=True)
class ChargingSession:
    request_id: str
    device_id: str
    device_name: str
    started_at: datetime
    stopped_at: datetime
    energy_wh: float
    stop_reason: str


def sessions_of(conn: Connection, user_id: str, limit: int) -> list[ChargingSession]:
    """Newest first: one row per receipt of a request the driver made."""
    r, u, d = t.receipts, t.usage_requests, t.devices
    query = (
        sa.select(
            r.c.request_id,
            r.c.device_id,
            d.c.name,
            r.c.started_at,
            r.c.stopped_at,
            r.c.energy_wh,
            r.c.stop_reason,
        )  # fmt: skip
        .join(u, u.c.id == r.c.request_id)
        .join(d, d.c.id == r.c.device_id)
        .where(u.c.user_id == user_id)
        .order_by(r.c.stopped_at.desc(), r.c.id.desc())
        .limit(limit)
    )
    return [
        ChargingSession(str(row[0]), row[1], row[2], row[3], row[4], float(row[5]), row[6])
        for row in conn.execute(query)
    ]
