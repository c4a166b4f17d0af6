"""A second site beside the demo's, for the tests of who may see and touch what."""

from datetime import datetime
from typing import Any

from app.domain.model import Device, Policy, Role, Site, User
from app.services.accounts import store_token
from app.store.repositories import Devices, Sites, Users

FOREIGN_MANAGER = User("m9", "m9", "Mo", Role.MANAGER)  # manages site-9 only
FOREIGN_DRIVER = User("u9", "u9", "Ula", Role.USER)  # a member of site-9 only
FOREIGN_DEVICE = "far-1"
FOREIGN_MANAGER_TOKEN = "pp_foreign_manager_token"
FOREIGN_DRIVER_TOKEN = "pp_foreign_driver_token"


def add_foreign_site(conn: Any, now: datetime) -> None:
    """site-9 "Elsewhere": its manager, its driver, its charger far-1, and a bearer token
    for each person."""
    Users(conn).add(FOREIGN_MANAGER)
    Users(conn).add(FOREIGN_DRIVER)
    members = frozenset({FOREIGN_DRIVER.id})
    Sites(conn).add(
        Site("site-9", "Elsewhere", "UTC", Policy(), frozenset({FOREIGN_MANAGER.id}), members)
    )
    Devices(conn).add(Device(FOREIGN_DEVICE, "Far 1", "site-9"))
    store_token(conn, FOREIGN_MANAGER.id, FOREIGN_MANAGER_TOKEN, "test", now)
    store_token(conn, FOREIGN_DRIVER.id, FOREIGN_DRIVER_TOKEN, "test", now)
