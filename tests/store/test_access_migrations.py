"""Migrations 0011 (withdrawals, users.disabled_at) and 0012 (login failures) undo and redo
cleanly on a store whose users have tokens pointing at them."""

from alembic import command

from app.cli import alembic_config
from app.settings import Settings
from tests.store.raw_sql import Statement, run_sql

USER: Statement = (
    "INSERT INTO users (id, login, display_name, role, password_hash, disabled_at) "
    "VALUES ('u-m', 'm', 'M', 'user', 'h', 1700000000)",
    {},
)
TOKEN: Statement = (
    "INSERT INTO api_tokens (token_hash, user_id, name, created_at) VALUES ('t', 'u-m', 'x', 1)",
    {},
)
WITHDRAWAL: Statement = (
    "INSERT INTO access_withdrawals (kind, subject, at, until) VALUES ('user', 'u-m', 1, 2)",
    {},
)
FAILURE: Statement = (
    "INSERT INTO login_failures (key, failures, last_failure_ms) VALUES ('login:x', 3, 1)",
    {},
)


def test_0011_and_0012_go_down_and_up_with_rows_in_place(settings: Settings) -> None:
    config, url = alembic_config(settings.database_url), settings.database_url
    run_sql(url, [USER, TOKEN, WITHDRAWAL, FAILURE])

    command.downgrade(config, "0010")
    assert run_sql(url, [], "SELECT id, login, password_hash FROM users") == [("u-m", "m", "h")]
    assert run_sql(url, [], "SELECT token_hash FROM api_tokens") == [("t",)]

    command.upgrade(config, "head")
    assert run_sql(url, [], "SELECT disabled_at FROM users") == [(None,)]
    assert run_sql(url, [], "SELECT count(*) FROM access_withdrawals") == [(0,)]
    assert run_sql(url, [], "SELECT count(*) FROM login_failures") == [(0,)]
    run_sql(url, [WITHDRAWAL, FAILURE])
