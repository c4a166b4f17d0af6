"""What a driver charged: their sessions as the chargers' receipts tell it."""

from app.domain.model import User
from app.services.container import Services
from app.store.history import ChargingSession, sessions_of

MAX_SESSIONS = 50

__all__ = ["ChargingSession", "charging_history"]


async def charging_history(
    services: Services, user: User, limit: int = 10
) -> list[ChargingSession]:
    """The driver's own sessions only, newest first."""
    limit = max(1, min(limit, MAX_SESSIONS))
    return await services.db.read(lambda conn: sessions_of(conn, user.id, limit))
