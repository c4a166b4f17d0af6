"""`powerpermit backup` while a real server is busy writing, then `powerpermit restore`
into a new data directory: every approval a driver had received before the backup began
is there, at the code's migration head; the copies are private (0600); the server kept
answering while the copy ran. Plus the refusals: an occupied target, a file that is not
a backup, an existing backup path, and PostgreSQL (pointed at pg_dump instead)."""

import asyncio
import os
import sqlite3
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from alembic.script import ScriptDirectory

from app.cli import alembic_config
from app.services.demo import add_busy_site
from app.store.database import create_sync_engine
from tests.http.live import (
    REQUEST_USAGE,
    ROOT,
    ServerProcess,
    free_port,
    powerpermit,
    prepare,
    server_env,
)

DRIVERS = 4
DEVICES = 8


def cli(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        powerpermit(*args),
        cwd=ROOT,
        env=env or server_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )


def approved_ids(db_file: Path) -> set[str]:
    conn = sqlite3.connect(db_file)
    try:
        rows = conn.execute("SELECT id FROM usage_requests WHERE status = 'APPROVED'")
        return {str(row[0]) for row in rows}
    finally:
        conn.close()


def revision(db_file: Path) -> str:
    conn = sqlite3.connect(db_file)
    try:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])
    finally:
        conn.close()


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_backup_while_serving_then_restore_into_a_new_data_dir(tmp_path: Path) -> None:
    live_dir, new_dir = tmp_path / "live", tmp_path / "restored"
    prepare(live_dir)
    engine = create_sync_engine(server_env(live_dir)["DATABASE_URL"])
    with engine.begin() as conn:
        devices, tokens = add_busy_site(
            conn, "busy", devices=DEVICES, drivers=DRIVERS, now=datetime.now(UTC)
        )
    engine.dispose()
    # Four drivers write as fast as the server answers: rate limits off.
    server = ServerProcess(
        live_dir, free_port(), live_dir / "server.log", serve_args=("--rate-limit-factor", "0")
    )
    server.start()
    base = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    received: list[str] = []  # approvals in the order the drivers got them
    stop = asyncio.Event()

    async def driver(n: int, client: httpx.AsyncClient) -> None:
        headers = {"Authorization": f"Bearer {tokens[n]}"}
        for k in range(10_000):
            if stop.is_set():
                return
            slot = k * DRIVERS + n  # each ask its own slot: every one is approved
            variables = {
                "input": {
                    "deviceId": devices[slot % DEVICES],
                    "startsAt": (base + timedelta(minutes=30) * (slot // DEVICES)).isoformat(),
                    "durationMinutes": 30,
                }
            }
            response = await client.post(
                server.url("/graphql"),
                json={"query": REQUEST_USAGE, "variables": variables},
                headers=headers,
            )
            answer: Any = response.json()["data"]["requestUsage"]
            assert answer["status"] == "APPROVED", answer
            received.append(answer["id"])

    backup_file = tmp_path / "backups" / "pp.sqlite"
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            drivers = asyncio.gather(*(driver(n, client) for n in range(DRIVERS)))
            while len(received) < 40:
                await asyncio.sleep(0.05)
            before = set(received)
            # The backup runs as its own process while the drivers keep writing.
            process = await asyncio.create_subprocess_exec(
                *powerpermit("backup", str(backup_file)),
                cwd=ROOT,
                env=server_env(live_dir),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(process.communicate(), 60)
            during = len(received) - len(before)
            await asyncio.sleep(0.3)  # and on after it
            stop.set()
            await asyncio.wait_for(drivers, 30)
    finally:
        server.stop()

    assert process.returncode == 0, err.decode()
    assert "done:" in out.decode()
    assert private(backup_file)
    assert not backup_file.with_name(backup_file.name + "-wal").exists()  # one whole file
    assert during > 0  # the server kept approving while the backup ran

    done = cli(new_dir, "restore", str(backup_file))
    assert done.returncode == 0, done.stderr
    restored = new_dir / "powerpermit.db"
    assert private(restored)
    heads = ScriptDirectory.from_config(alembic_config(f"sqlite:///{restored}")).get_heads()
    assert [revision(restored)] == heads
    missing = before - approved_ids(restored)
    assert not missing, f"{len(missing)} of {len(before)} approvals are not in the backup"
    # Nothing the live store lacks: the backup is a moment of it, not an invention.
    assert approved_ids(restored) <= approved_ids(live_dir / "powerpermit.db")


def test_restore_refuses_an_occupied_store_unless_forced(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    prepare(first)
    prepare(second)
    backup_file = tmp_path / "first.sqlite"
    assert cli(first, "backup", str(backup_file)).returncode == 0
    target = second / "powerpermit.db"
    before = target.read_bytes()

    refused = cli(second, "restore", str(backup_file))
    assert refused.returncode == 2
    assert "--force" in refused.stderr
    assert target.read_bytes() == before  # nothing changed

    forced = cli(second, "restore", "--force", str(backup_file))
    assert forced.returncode == 0, forced.stderr
    assert approved_ids(target) == approved_ids(first / "powerpermit.db")
    assert private(target)


def test_refusals_change_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prepare(data)
    existing = tmp_path / "existing.sqlite"
    existing.write_bytes(b"keep me")
    again = cli(data, "backup", str(existing))
    assert again.returncode == 2 and "--force" in again.stderr
    assert existing.read_bytes() == b"keep me"

    empty = tmp_path / "empty"
    not_a_backup = cli(empty, "restore", str(existing))
    assert not_a_backup.returncode == 2 and "not an SQLite database" in not_a_backup.stderr
    assert not (empty / "powerpermit.db").exists()

    missing = cli(empty, "restore", str(tmp_path / "nowhere.sqlite"))
    assert missing.returncode == 2 and "no such backup file" in missing.stderr


def test_postgresql_is_pointed_at_pg_dump(tmp_path: Path) -> None:
    env = {**os.environ, "POWERPERMIT_DATA_DIR": str(tmp_path)}
    env["DATABASE_URL"] = "postgresql+asyncpg://pp:s3cret-pw@127.0.0.1:5432/powerpermit"
    for args in (("backup", str(tmp_path / "b")), ("restore", str(tmp_path / "b"))):
        done = cli(tmp_path, *args, env=env)
        assert done.returncode == 2
        assert "pg_dump --format=custom" in done.stderr
        assert "pg_restore" in done.stderr
        assert "s3cret-pw" not in done.stderr
        assert not (tmp_path / "b").exists()
