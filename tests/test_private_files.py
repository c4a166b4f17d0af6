"""The database and the permit-signing key are private: made 0600, refused when not."""

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.store.database import DatabaseFileError, ensure_private
from device.protocol import SigningKey
from device.protocol.keys import KeyFileError

POWERPERMIT = str(Path(sys.executable).with_name("powerpermit"))


def powerpermit(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POWERPERMIT_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    return subprocess.run([POWERPERMIT, *args], env=env, capture_output=True, text=True, timeout=60)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_key_are_created_private_and_refused_once_opened_up(
    tmp_path: Path,
) -> None:
    old_umask = os.umask(0o022)  # the usual umask: what SQLite alone would leave readable
    try:
        assert powerpermit(tmp_path, "migrate").returncode == 0
        assert powerpermit(tmp_path, "seed-demo").returncode == 0
    finally:
        os.umask(old_umask)
    database, key = tmp_path / "powerpermit.db", tmp_path / "keys" / "permit-signing.ed25519"
    assert mode(database) == 0o600
    assert mode(key) == 0o600

    for path in (database, key):
        path.chmod(0o644)
        refused = powerpermit(tmp_path, "seed-demo")
        assert refused.returncode == 2, refused.stderr
        assert str(path) in refused.stderr and f"chmod 600 {path}" in refused.stderr
        assert "Traceback" not in refused.stderr
        path.chmod(0o600)
    assert powerpermit(tmp_path, "seed-demo").returncode == 0


def test_a_process_that_loses_the_race_to_create_the_key_uses_the_winners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys" / "k.ed25519"
    winner = SigningKey.generate()
    generate = SigningKey.generate

    def another_process_wins_meanwhile() -> SigningKey:
        # The other process writes its key after our look found none, before our own write.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(winner.private_key.private_bytes_raw())
        return generate()

    monkeypatch.setattr(SigningKey, "generate", staticmethod(another_process_wins_meanwhile))
    loser = SigningKey.load_or_create(path)
    assert loser.kid == winner.kid
    assert mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind


def test_many_threads_creating_one_key_all_get_the_same_whole_key(tmp_path: Path) -> None:
    path = tmp_path / "k.ed25519"
    start = threading.Barrier(8)
    kids: list[bytes] = []
    errors: list[BaseException] = []

    def create() -> None:
        start.wait()
        try:
            kids.append(SigningKey.load_or_create(path).kid)
        except BaseException as err:  # noqa: BLE001 - the test reports any failure
            errors.append(err)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(kids)) == 1 and len(kids) == 8


def test_a_key_file_of_the_wrong_size_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "k.ed25519"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    with pytest.raises(KeyFileError, match=str(path)):
        SigningKey.load_or_create(path)


def test_a_leftover_wal_file_open_to_others_is_refused_too(tmp_path: Path) -> None:
    database = tmp_path / "pp.db"
    ensure_private(database)
    wal = tmp_path / "pp.db-wal"
    wal.write_bytes(b"")
    wal.chmod(0o644)
    with pytest.raises(DatabaseFileError, match=f"chmod 600 {wal}"):
        ensure_private(database)
