"""The demo site `make run` starts with: one manager, two drivers, three chargers.

Idempotent: logins, passwords and tokens are kept in the data directory (mode 0600, never
committed) so a second run prints the same credentials and adds nothing.
"""

import json
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from app.domain.model import Device, Policy, Role, Site, User
from app.services.accounts import hash_password, hash_token, store_token
from app.services.container import Services
from app.store import tables as t
from app.store.repositories import Devices, Sites, Users

SITE = Site(
    id="site-1",
    name="Riverside Depot",
    timezone="Europe/Berlin",
    policy=Policy(),  # around the clock, up to 8 h, automatic approval up to 2 h
)
ACCOUNTS = (  # key in the JSON output, then the user
    ("manager", User("m1", "manager", "Mia Manager", Role.MANAGER)),
    ("user", User("u1", "user", "Udo Driver", Role.USER)),
    ("user2", User("u2", "user2", "Uma Driver", Role.USER)),
)
# `make run` starts ch-1's simulated charger here (app/devrun.py); the others have no link.
DEMO_LINK_URL = "http://127.0.0.1:8410"
DEVICES = tuple(
    Device(f"ch-{n}", f"Bay {n}", SITE.id, link_url=DEMO_LINK_URL if n == 1 else None)
    for n in (1, 2, 3)
)


def load_credentials(data_dir: Path) -> dict[str, dict[str, str]]:
    path = data_dir / "demo-credentials.json"
    if path.exists():
        credentials: dict[str, dict[str, str]] = json.loads(path.read_text())
        return credentials
    credentials = {
        key: {
            "login": user.login,
            "password": secrets.token_urlsafe(9),
            "token": "pp_" + secrets.token_urlsafe(24),
        }
        for key, user in ACCOUNTS
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(credentials, handle, indent=2)
    return credentials


def seed_demo(services: Services, data_dir: Path) -> dict[str, Any]:
    credentials = load_credentials(data_dir)
    now = services.clock()
    services.db.run_sync(lambda conn: _seed(conn, credentials, now))
    summary: dict[str, Any] = {key: credentials[key] for key, _ in ACCOUNTS}
    summary["site"] = {"id": SITE.id, "name": SITE.name}
    summary["devices"] = [{"id": device.id, "name": device.name} for device in DEVICES]
    return summary


def _seed(conn: Connection, credentials: dict[str, dict[str, str]], now: datetime) -> None:
    sites, users, devices = Sites(conn), Users(conn), Devices(conn)
    if sites.get(SITE.id) is None:
        sites.add(SITE)
    for key, user in ACCOUNTS:
        if users.get(user.id) is None:
            users.add(user, hash_password(credentials[key]["password"]))
        token = credentials[key]["token"]
        if users.by_token_hash(hash_token(token)) is None:
            store_token(conn, user.id, token, "demo", now)
        role_table = t.site_managers if user.is_manager else t.site_members
        sites.add_person(SITE.id, user.id, role_table)
    for device in DEVICES:
        if devices.get(device.id) is None:
            devices.add(device)


def add_busy_site(
    conn: Connection, site_id: str, *, devices: int, drivers: int, now: datetime
) -> tuple[list[str], list[str]]:
    """A site for load benches and crash tests: many chargers, many drivers, a year's
    horizon and no practical open-request limit, so only the overlap rule can refuse.
    Returns the device ids and one API token per driver."""
    policy = Policy(booking_horizon=timedelta(days=365), max_open_requests=10**9)
    Sites(conn).add(Site(site_id, site_id.title(), "UTC", policy))
    device_ids = [f"{site_id}-{i}" for i in range(devices)]
    for device_id in device_ids:
        Devices(conn).add(Device(device_id, device_id, site_id))
    tokens = []
    for i in range(drivers):
        user = User(f"{site_id}-u{i}", f"{site_id}-u{i}", f"Driver {i}", Role.USER)
        Users(conn).add(user)
        Sites(conn).add_person(site_id, user.id, t.site_members)
        token = f"pp_{site_id}_{i}_{secrets.token_urlsafe(12)}"
        store_token(conn, user.id, token, "load", now)
        tokens.append(token)
    return device_ids, tokens
