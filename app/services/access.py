"""Who may act on or see a site: one rule each, used by every use case that checks it."""

from collections.abc import Collection

from sqlalchemy.engine import Connection

from app.domain.model import User
from app.services.errors import NotAllowed
from app.store.repositories import Sites


def manages(conn: Connection, user: User, site_id: str) -> bool:
    return is_among_managers(user, Sites(conn).managers_of(site_id))


def is_among_managers(user: User, site_manager_ids: Collection[str]) -> bool:
    """The rule itself, for when a site's managers are already at hand (one load serves
    every subscriber of an event): a manager by role who is listed for the site."""
    return user.is_manager and user.id in site_manager_ids


def belongs_to(conn: Connection, user: User, site_id: str) -> bool:
    """A site's devices and their availability are for its managers and members only."""
    return site_id in Sites(conn).of_person(user.id)


def require_manager(conn: Connection, user: User, site_id: str, message: str) -> None:
    if not manages(conn, user, site_id):
        raise NotAllowed(message)
