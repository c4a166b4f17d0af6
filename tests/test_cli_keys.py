"""`powerpermit keys list | rotate | prune`, run as an operator would, beside a live signer."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.services.container import build_services
from app.services.keyring import FIRST_KEY
from app.settings import Settings
from device.protocol.keys import b64url

POWERPERMIT = str(Path(sys.executable).with_name("powerpermit"))


def keys(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POWERPERMIT_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [POWERPERMIT, "keys", *args], env=env, capture_output=True, text=True, timeout=60
    )


def migrate(data_dir: Path) -> None:
    env = {**os.environ, "POWERPERMIT_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    subprocess.run([POWERPERMIT, "migrate"], env=env, capture_output=True, timeout=60, check=True)


def listed(data_dir: Path) -> list[dict[str, Any]]:
    answer = keys(data_dir, "list", "--json")
    assert answer.returncode == 0, answer.stderr
    rows: list[dict[str, Any]] = json.loads(answer.stdout)
    return rows


def test_rotate_makes_a_new_current_key_that_a_running_signer_uses_at_once(
    tmp_path: Path,
) -> None:
    migrate(tmp_path)
    settings = Settings(tmp_path, f"sqlite:///{tmp_path / 'powerpermit.db'}")
    running = build_services(settings).signer  # a server process, started before the rotation
    [first] = listed(tmp_path)
    assert first["current"] and first["last_permit_expires"] is None
    assert b64url(running.key.kid) == first["kid"]

    rotated = keys(tmp_path, "rotate")
    assert rotated.returncode == 0 and "new current key" in rotated.stdout
    old, new = listed(tmp_path)
    assert (old["kid"], old["current"], new["current"]) == (first["kid"], False, True)
    assert old["retired"] == new["created"]
    assert b64url(running.key.kid) == new["kid"]  # no restart, no signal
    assert [k["kid"] for k in running.jwks()["keys"]] == [old["kid"], new["kid"]]

    pruned = keys(tmp_path, "prune")
    assert pruned.returncode == 0 and "nothing to prune" in pruned.stdout  # within the grace
    refused = keys(tmp_path, "prune", new["kid"])
    assert refused.returncode == 2 and "still needed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(listed(tmp_path)) == 2

    for path in (tmp_path / "keys").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_keyring_file_others_may_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    migrate(tmp_path)
    assert keys(tmp_path, "rotate").returncode == 0
    [rotated] = [p for p in (tmp_path / "keys").glob("permit-*") if p.name != FIRST_KEY]
    rotated.chmod(0o644)
    answer = keys(tmp_path, "list")
    assert answer.returncode == 2
    assert "chmod 600" in answer.stderr and "Traceback" not in answer.stderr


def test_add_publishes_a_next_key_that_rotate_then_makes_current(tmp_path: Path) -> None:
    migrate(tmp_path)
    added = keys(tmp_path, "add")
    assert added.returncode == 0 and "next key" in added.stdout
    first, staged = listed(tmp_path)
    assert (first["current"], staged["current"], staged["staged"]) == (True, False, True)
    assert "next" in keys(tmp_path, "list").stdout
    assert keys(tmp_path, "rotate").returncode == 0
    old, new = listed(tmp_path)
    assert (new["kid"], new["current"], old["current"]) == (staged["kid"], True, False)
