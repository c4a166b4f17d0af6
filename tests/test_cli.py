"""The `powerpermit` command line, run as a newcomer would run it."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from app.services.container import build_services
from app.settings import Settings
from device.protocol import TrustList

POWERPERMIT = str(Path(sys.executable).with_name("powerpermit"))


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POWERPERMIT_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [POWERPERMIT, *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )


def test_migrate_then_seed_demo_twice_prints_the_same_accounts(tmp_path: Path) -> None:
    run(["migrate"], tmp_path)
    first = json.loads(run(["seed-demo", "--json"], tmp_path).stdout)
    second = json.loads(run(["seed-demo", "--json"], tmp_path).stdout)

    assert first == second
    for key in ("manager", "user", "user2"):
        assert set(first[key]) == {"login", "password", "token"}
        assert first[key]["token"] and first[key]["password"]
    assert [d["id"] for d in first["devices"]] == ["ch-1", "ch-2", "ch-3"]
    assert all(isinstance(d["name"], str) for d in first["devices"])
    assert (tmp_path / "powerpermit.db").exists()


def test_the_signing_key_is_created_private_and_published_as_a_jwk_set(tmp_path: Path) -> None:
    run(["migrate"], tmp_path)
    run(["seed-demo"], tmp_path)
    key_file = tmp_path / "keys" / "permit-signing.ed25519"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    credentials = tmp_path / "demo-credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600

    settings = Settings(tmp_path, f"sqlite:///{tmp_path / 'powerpermit.db'}")
    jwks = build_services(settings).signer.jwks()
    assert jwks["keys"][0]["kty"] == "OKP" and jwks["keys"][0]["crv"] == "Ed25519"
    assert len(TrustList.from_jwks(jwks)) == 1
