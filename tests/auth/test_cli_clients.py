"""`powerpermit client create|list|revoke` through the real command line on a migrated
SQLite store with the demo site."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.services.container import build_services
from app.services.demo import seed_demo
from app.settings import Settings
from app.store import tables as t


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("POWERPERMIT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    settings = Settings(tmp_path, f"sqlite:///{tmp_path / 'powerpermit.db'}")
    services = build_services(settings)
    seed_demo(services, tmp_path)
    services.db.engine.dispose()
    yield settings


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["client", *args])
    out, err = capsys.readouterr()
    return code, out, err


def create(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    args = ["create", "--name", "Fleet", "--site", "site-1", "--scopes", "requests:read"]
    code, out, err = run(capsys, *args, *extra, "--json")
    assert code == 0, err
    created: dict[str, Any] = json.loads(out)
    return created


def listed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def test_create_prints_the_secret_once_and_list_never_shows_it(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    created = create(capsys)
    assert created["client_id"] and len(created["client_secret"]) >= 43  # 32 random bytes
    code, text, _ = run(capsys, "list")
    _, as_json, _ = run(capsys, "list", "--json")
    assert code == 0 and created["client_id"] in text
    assert created["client_secret"] not in text + as_json
    (row,) = json.loads(as_json)
    assert row["site"] == "site-1" and row["scopes"] == ["requests:read"]
    assert row["public"] is False and row["revoked"] is None


def test_the_client_acts_through_a_service_account_managing_its_site(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    created = create(capsys)
    services = build_services(store)
    with services.db.engine.connect() as conn:
        account = conn.execute(
            t.users.select().where(t.users.c.login == f"client:{created['client_id']}")
        ).one()
        managed = conn.execute(
            t.site_managers.select().where(t.site_managers.c.user_id == account.id)
        ).all()
    services.db.engine.dispose()
    assert account.role == "manager" and account.password_hash is None
    assert account.display_name == "Fleet"
    assert [row.site_id for row in managed] == ["site-1"]


def test_a_public_client_has_no_secret_and_needs_a_redirect_uri(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys,
        "create",
        "--name",
        "App",
        "--site",
        "site-1",
        "--scopes",
        "requests:read",
        "--public",
    )
    assert code == 2 and "redirect URI" in err
    created = create(capsys, "--public", "--redirect-uri", "http://127.0.0.1:9/cb")
    assert created["client_secret"] is None
    assert listed(capsys)[0]["redirect_uris"] == ["http://127.0.0.1:9/cb"]


READ = ["--site", "site-1", "--scopes", "requests:read"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--site", "nowhere", "--scopes", "requests:read"], "no site"),
        (["--site", "site-1", "--scopes", "requests:read everything"], "unknown scopes"),
        (["--site", "site-1", "--scopes", " "], "at least one scope"),
        ([*READ, "--redirect-uri", "ftp://x/"], "https"),
        ([*READ, "--redirect-uri", "http://e.com/"], "http only on loopback"),
        ([*READ, "--redirect-uri", "https://e.com/#f"], "https"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(
    store: Settings, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    code, out, err = run(capsys, "create", "--name", "Fleet", *args)
    assert code == 2 and says in err and out == ""
    assert listed(capsys) == []


def test_a_duplicate_name_on_one_site_is_refused(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    create(capsys)
    code, _, err = run(
        capsys, "create", "--name", "Fleet", "--site", "site-1", "--scopes", "requests:read"
    )
    assert code == 2 and "already has a client named" in err
    assert len(listed(capsys)) == 1


def test_revoke_marks_the_client_and_refuses_a_second_time(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    client_id = create(capsys)["client_id"]
    code, out, _ = run(capsys, "revoke", client_id)
    assert code == 0 and f"revoked {client_id}" in out
    assert listed(capsys)[0]["revoked"] is not None
    assert run(capsys, "revoke", client_id)[0] == 2
    code, _, err = run(capsys, "revoke", "c-unknown")
    assert code == 2 and "no client" in err
