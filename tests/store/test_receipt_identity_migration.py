"""Migration 0003 names the receipts already stored by their digest, and undoes cleanly."""

import hashlib

from alembic import command

from app.cli import alembic_config
from app.settings import Settings
from tests.store.raw_sql import Statement, run_sql

SITE: Statement = (
    "INSERT INTO sites (id, name, timezone, max_duration_min, auto_approve_min, horizon_days, "
    "start_grace_s, max_open_requests) VALUES ('s-m', 'S', 'UTC', 60, 60, 7, 300, 3)",
    {},
)
DEVICE: Statement = (
    "INSERT INTO devices (id, name, site_id, in_service, max_power_w) "
    "VALUES ('d-m', 'D', 's-m', true, 11000)",
    {},
)
RECEIPT_COLUMNS = (
    "device_id, counter, permit_id, started_at, stopped_at, energy_wh, stop_reason, token, "
    "received_at"
)
RECEIPT_VALUES = "'d-m', :counter, 'p', 1, 2, 1.5, 'user_stop', :token, 3"


def receipt(counter: int, token: bytes, *, with_digest: bool = False) -> Statement:
    if with_digest:
        sql = f"INSERT INTO receipts ({RECEIPT_COLUMNS}, digest) VALUES ({RECEIPT_VALUES}, :digest)"
        return sql, {"counter": counter, "token": token, "digest": digest(token)}
    sql = f"INSERT INTO receipts ({RECEIPT_COLUMNS}) VALUES ({RECEIPT_VALUES})"
    return sql, {"counter": counter, "token": token}


def digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def test_0003_backfills_digests_and_its_downgrade_keeps_one_receipt_per_counter(
    settings: Settings,
) -> None:
    config, url = alembic_config(settings.database_url), settings.database_url
    command.downgrade(config, "0002")
    old = [bytes([n]) * 20 for n in (1, 2)]
    run_sql(url, [SITE, DEVICE, receipt(1, old[0]), receipt(2, old[1])])

    command.upgrade(config, "0003")
    rows = run_sql(url, [], "SELECT digest FROM receipts ORDER BY counter")
    assert [bytes(row[0]) for row in rows] == [digest(t) for t in old]
    recommissioned = bytes([3]) * 20  # a new key's receipt 1: a counter the old key used
    run_sql(url, [receipt(1, recommissioned, with_digest=True)])

    command.downgrade(config, "0002")
    rows = run_sql(url, [], "SELECT counter, token FROM receipts ORDER BY counter")
    assert [(c, bytes(t)) for c, t in rows] == [(1, old[0]), (2, old[1])]
    command.upgrade(config, "head")
