"""The demo site `make run` starts with: one manager, two drivers, three chargers.

Idempotent: logins, passwords and tokens are kept in the data directory (mode 0600, never
committed) so a second run prints the same credentials and adds nothing.
"""

import json
import os
import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.services.accounts import hash_password, hash_token, store_token
from app.services.container import Services
from app.store import tables as t

SITE_ID = "site-1"
ACCOUNTS = (  # key in the JSON output, user id, login, display name, role
    ("manager", "m1", "manager", "Mia Manager", "manager"),
    ("user", "u1", "user", "Udo Driver", "user"),
    ("user2", "u2", "user2", "Uma Driver", "user"),
)
DEVICES = (("ch-1", "Bay 1"), ("ch-2", "Bay 2"), ("ch-3", "Bay 3"))


def load_credentials(data_dir: Path) -> dict[str, dict[str, str]]:
    path = data_dir / "demo-credentials.json"
    if path.exists():
        credentials: dict[str, dict[str, str]] = json.loads(path.read_text())
        return credentials
    credentials = {
        key: {
            "login": login,
            "password": secrets.token_urlsafe(9),
            "token": "pp_" + secrets.token_urlsafe(24),
        }
        for key, _, login, _, _ in ACCOUNTS
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(credentials, handle, indent=2)
    return credentials


def seed_demo(services: Services, data_dir: Path) -> dict[str, Any]:
    credentials = load_credentials(data_dir)
    now = services.clock()

    def work(conn: Connection) -> None:
        _ensure_site(conn)
        for key, user_id, login, name, role in ACCOUNTS:
            if _missing(conn, t.users, t.users.c.id == user_id):
                password_hash = hash_password(credentials[key]["password"])
                conn.execute(
                    t.users.insert().values(
                        id=user_id,
                        login=login,
                        display_name=name,
                        role=role,
                        password_hash=password_hash,
                    )
                )
            token = credentials[key]["token"]
            if _missing(conn, t.api_tokens, t.api_tokens.c.token_hash == hash_token(token)):
                store_token(conn, user_id, token, "demo", now)
            membership = t.site_managers if role == "manager" else t.site_members
            where = (membership.c.site_id == SITE_ID) & (membership.c.user_id == user_id)
            if _missing(conn, membership, where):
                conn.execute(membership.insert().values(site_id=SITE_ID, user_id=user_id))
        for device_id, name in DEVICES:
            if _missing(conn, t.devices, t.devices.c.id == device_id):
                conn.execute(
                    t.devices.insert().values(
                        id=device_id,
                        name=name,
                        site_id=SITE_ID,
                        in_service=True,
                        max_power_w=11_000,
                    )
                )

    services.db.run_sync(work)
    summary: dict[str, Any] = {key: credentials[key] for key, *_ in ACCOUNTS}
    summary["site"] = {"id": SITE_ID, "name": "Riverside Depot"}
    summary["devices"] = [{"id": device_id, "name": name} for device_id, name in DEVICES]
    return summary


def _missing(conn: Connection, table: sa.Table, where: Any) -> bool:
    return conn.execute(sa.select(sa.literal(1)).select_from(table).where(where)).first() is None


def _ensure_site(conn: Connection) -> None:
    if not _missing(conn, t.sites, t.sites.c.id == SITE_ID):
        return
    conn.execute(
        t.sites.insert().values(
            id=SITE_ID,
            name="Riverside Depot",
            timezone="Europe/Berlin",
            max_duration_min=8 * 60,
            auto_approve_min=2 * 60,
            horizon_days=14,
            start_grace_s=300,
            max_open_requests=3,
            opens_at=None,
            closes_at=None,
        )
    )
