"""Who may act on or see a site: one rule each, used by every use case that checks it."""

from sqlalchemy.engine import Connection

from app.domain.model import User
from app.services.errors import NotAllowed
from app.store.repositories import Sites


def manages(conn: Connection, user: User, site_id: str) -> bool:
    return user.is_manager and site_id in Sites(conn).managed_by(user.id)


def belongs_to(conn: Connection, user: User, site_id: str) -> bool:
    """A site's devices and their availability are for its managers and members only."""
    return site_id in Sites(conn).of_person(user.id)


def require_manager(conn: Connection, user: User, site_id: str, message: str) -> None:
    if not manages(conn, user, site_id):
        raise NotAllowed(message)
