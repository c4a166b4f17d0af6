"""Settings come from the environment, read in one place."""

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    issuer: str = "pp"
    redis_url: str | None = None  # set: events cross processes over Redis pub/sub
    # Test-only fault: SIGKILL right after a commit, before its event is published (the
    # multi-process tests). An environment variable only: nothing on the network sets it.
    die_before_publish: bool = False

    @classmethod
    def from_env(cls) -> "Settings":
        data_dir = Path(os.environ.get("POWERPERMIT_DATA_DIR", "var")).resolve()
        # SQLite runs on the stdlib driver (app/store/database.py), whatever the URL names.
        default_db = f"sqlite:///{data_dir / 'powerpermit.db'}"
        return cls(
            data_dir=data_dir,
            database_url=os.environ.get("DATABASE_URL", default_db),
            redis_url=os.environ.get("REDIS_URL") or None,
            die_before_publish=os.environ.get("POWERPERMIT_TEST_DIE_BEFORE_PUBLISH") == "1",
        )

    @property
    def signing_key_path(self) -> Path:
        return self.data_dir / "keys" / "permit-signing.ed25519"
