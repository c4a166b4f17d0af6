"""Migration 0013 goes down and up again on SQLite and PostgreSQL."""

from alembic import command

from app.cli import alembic_config
from app.settings import Settings
from tests.store.raw_sql import run_sql

OAUTH_TABLES = {"oauth_clients", "oauth_authorization_codes", "oauth_refresh_tokens"}


def oauth_rows_counted(settings: Settings) -> set[str]:
    """The OAuth tables that exist, each proven by counting its rows."""
    found = set()
    for table in OAUTH_TABLES:
        try:
            run_sql(settings.database_url, [], f"select count(*) from {table}")
        except Exception:  # noqa: BLE001 - a missing table, in the driver's own words
            continue
        found.add(table)
    return found


def test_0013_down_removes_the_oauth_tables_and_up_brings_them_back(settings: Settings) -> None:
    config = alembic_config(settings.database_url)
    assert oauth_rows_counted(settings) == OAUTH_TABLES
    command.downgrade(config, "0012")
    assert oauth_rows_counted(settings) == set()
    command.upgrade(config, "head")
    assert oauth_rows_counted(settings) == OAUTH_TABLES
